package dev.loupe.data;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class AlignedTokenizerTest {
    static final AlignedTokenizer TOKENIZER = new AlignedTokenizer();

    @Test
    void everyTokenKnowsItsWord() {
        List<TaggedWord> words = List.of(
                new TaggedWord("The", "at"), new TaggedWord("term-end", "nn"), new TaggedWord("``", "``"),
                new TaggedWord("presentments", "nns"), new TaggedWord("''", "''"), new TaggedWord(".", "."),
                new TaggedWord("Next", "ap", TaggedWord.Break.PARAGRAPH));
        Detokenizer.Text text = Detokenizer.render(words);
        assertEquals("The term-end \"presentments\".\n\nNext", text.text());
        AlignedTokenizer.Tokens tokens = TOKENIZER.encode(text);
        assertEquals(text.text(), TOKENIZER.decode(tokens.ids()));
        // GPT-2: The| term|-|end| "|present|ments|".|\n|\n|Next ('".' is one token: it belongs to the first word)
        assertArrayEquals(new int[]{464, 3381, 12, 437, 366, 25579, 902, 1911, 198, 198, 10019}, tokens.ids());
        assertArrayEquals(new int[]{0, 1, 1, 1, 2, 3, 3, 4, -1, -1, 6}, tokens.wordIndex());
    }

    @Test
    void datasetCarriesTagsPerToken() {
        CorpusDocument doc = new CorpusDocument("d1", "g", List.of(
                new TaggedWord("Hello", "uh"), new TaggedWord("world", "nn"), new TaggedWord("!", ".")));
        TokenDataset data = new DatasetBuilder().build(List.of(doc), java.util.Set.of());
        // EOT Hello| world|! EOT
        assertArrayEquals(new int[]{50256, 15496, 995, 0, 50256}, data.tokens());
        assertArrayEquals(new int[]{-1, 0, 1, 2, -1}, data.wordIndex());
        String[] tags = new String[5];
        for (int i = 0; i < 5; i++) tags[i] = data.tags().tag(data.pos()[i]);
        assertArrayEquals(new String[]{"", "uh", "nn", ".", ""}, tags);
    }
}
