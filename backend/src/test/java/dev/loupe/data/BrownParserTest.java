package dev.loupe.data;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class BrownParserTest {
    /** The package's real layout: blank-line paragraphs, a tab before indented ones, headlines tagged -hl. */
    static final String TEXT = """


            \tThe/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd ``/`` no/at evidence/nn ''/'' ./.


            Merger/nn-hl proposed/vbn-hl\s
            However/wrb ,/, the/at jury/nn said/vbd it/pps believes/vbz (/( 1/cd )/) ;/. ;/.
            he/pps didn't/dod* run/vb 1-1/2/cd miles/nns ./.


            \tShe/pps said/vbd ,/, '/' Pro/jj '/' ./.
            """;

    @Test
    void keepsWordsTagsAndLayout() {
        CorpusDocument doc = BrownParser.parseText("ca01", "news", TEXT);
        assertEquals("ca01", doc.id());
        assertEquals("news", doc.genre());
        List<TaggedWord> w = doc.words();
        assertEquals(new TaggedWord("The", "at", TaggedWord.Break.NONE), w.getFirst());
        assertEquals(new TaggedWord("``", "``"), w.get(6));
        assertEquals(new TaggedWord("Merger", "nn-hl", TaggedWord.Break.PARAGRAPH), w.get(11));
        assertEquals(new TaggedWord("However", "wrb", TaggedWord.Break.LINE), w.get(13));
        assertEquals(new TaggedWord("1-1/2", "cd"), w.get(27)); // split at the last slash
        assertEquals("dod*", w.get(25).tag());
        // the doubled semicolon is kept once
        assertEquals(1, w.stream().filter(x -> x.text().equals(";")).count());
        assertEquals(37, w.size());
    }

    @Test
    void rendersReadableText() {
        CorpusDocument doc = BrownParser.parseText("ca01", "news", TEXT);
        assertEquals("""
                The Fulton County Grand Jury said "no evidence".

                Merger proposed
                However, the jury said it believes (1); he didn't run 1-1/2 miles.

                She said, 'Pro'.""", Detokenizer.render(doc.words()).text());
    }

    @Test
    void wordSpansPointIntoTheText() {
        List<TaggedWord> words = BrownParser.parseText("x", "g", TEXT).words();
        Detokenizer.Text t = Detokenizer.render(words);
        for (int i = 0; i < words.size(); i++)
            assertEquals(Detokenizer.surface(words.get(i).text()), t.text().substring(t.start()[i], t.end()[i]));
    }

    @Test
    void categoriesKeepFileOrder() {
        Map<String, String> cats = BrownParser.parseCategories("cb02 editorial\nca01 news\n\n");
        assertEquals(List.of("cb02", "ca01"), List.copyOf(cats.keySet()));
        assertEquals("news", cats.get("ca01"));
    }

    @Test
    void rejectsWordsWithoutTags() {
        assertThrows(IllegalArgumentException.class, () -> BrownParser.parseText("x", "g", "The/at jury\n"));
    }

    @Test
    void coarseClasses() {
        assertEquals("PROPN", PosTags.coarse("np-tl"));
        assertEquals("NOUN", PosTags.coarse("nns-hl"));
        assertEquals("VERB", PosTags.coarse("dod*"));
        assertEquals("PRON", PosTags.coarse("pps+bez"));
        assertEquals("ADV", PosTags.coarse("*"));
        assertEquals("PUNCT", PosTags.coarse("''"));
        assertEquals("X", PosTags.coarse("fw-nn"));
        assertEquals("NUM", PosTags.coarse("cd"));
        assertEquals("", PosTags.coarse(PosTags.NONE));
    }
}
