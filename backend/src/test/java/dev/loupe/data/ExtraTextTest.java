package dev.loupe.data;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Plain text (KJV, fortunes) into corpus documents and on through the same dataset builder as Brown. */
class ExtraTextTest {

    @Test
    void plainTextKeepsWordsLinesAndParagraphs() {
        List<TaggedWord> words = PlainText.words("  Hello,\tworld!\nSecond  line.\n\n\nNew paragraph \n");
        assertEquals(List.of("Hello,", "world!", "Second", "line.", "New", "paragraph"), words.stream().map(TaggedWord::text).toList());
        assertEquals(List.of(TaggedWord.Break.NONE, TaggedWord.Break.NONE, TaggedWord.Break.LINE, TaggedWord.Break.NONE,
                TaggedWord.Break.PARAGRAPH, TaggedWord.Break.NONE), words.stream().map(TaggedWord::before).toList());
        assertEquals("Hello, world!\nSecond line.\n\nNew paragraph", Detokenizer.render(words).text());
        words.forEach(w -> assertEquals(PosTags.NONE, w.tag()));
    }

    @Test
    void kjvOutputBecomesOneDocumentPerBookAndAParagraphPerChapter() {
        String out = """

                Genesis 1

                  1 In the beginning God created the heaven and the earth.
                  2 And the earth was without form, and void.

                Genesis 2

                  1 Thus the heavens and the earth were finished.

                1 Samuel 1

                  1 Now there was a certain man.
                """;
        List<CorpusDocument> books = DebianTexts.parseKjv(out);
        assertEquals(List.of("kjv/Genesis", "kjv/1_Samuel"), books.stream().map(CorpusDocument::id).toList());
        assertEquals("In the beginning God created the heaven and the earth. And the earth was without form, and void.\n\n"
                + "Thus the heavens and the earth were finished.", Detokenizer.render(books.get(0).words()).text());
        assertEquals("Now there was a certain man.", Detokenizer.render(books.get(1).words()).text());
        assertEquals("kjv", books.get(1).genre());
    }

    @Test
    void fortunesSplitAtPercentLines() {
        String file = "A penny saved is a penny.\n%\nTwo\n\t\t-- Someone\n%\n%\n";
        List<CorpusDocument> docs = DebianTexts.parseFortunes("wisdom", file);
        assertEquals(List.of("fortunes/wisdom/1", "fortunes/wisdom/2"), docs.stream().map(CorpusDocument::id).toList());
        assertEquals("Two\n-- Someone", Detokenizer.render(docs.get(1).words()).text());
        assertEquals("wisdom", docs.get(0).genre());
    }

    @Test
    void plainDocumentsBuildATrainingOnlyDatasetWithoutTags() {
        List<CorpusDocument> docs = DebianTexts.parseFortunes("wisdom", "Hello world\n%\nGood night\n");
        TokenDataset data = new DatasetBuilder().build(docs, Set.of());
        assertEquals(2, data.documents(false).size());
        assertEquals(0, data.documents(true).size());
        assertEquals(1, data.tags().size()); // only NONE
        // "Hello world" = 15496, 995 and "Good night" = 10248, 1755 in GPT-2's vocabulary
        assertArrayEquals(new int[]{50256, 15496, 995, 50256, 10248, 1755, 50256}, data.tokens());
        for (int p : data.pos()) assertEquals(0, p);
    }
}
