package dev.loupe.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

class TokenDatasetTest {
    static final int E = AlignedTokenizer.EOT;
    static final int I = TokenDataset.IGNORE;

    static CorpusDocument doc(String id, String genre, String text) {
        List<TaggedWord> words = new ArrayList<>();
        for (String w : text.split(" ")) words.add(new TaggedWord(w, w.equals(".") ? "." : "nn"));
        return new CorpusDocument(id, genre, words);
    }

    @Test
    void writesAndReadsBack(@TempDir Path dir) throws Exception {
        List<CorpusDocument> corpus = List.of(doc("a1", "news", "The cat sat ."), doc("a2", "news", "A dog ran far ."),
                doc("b1", "lore", "Birds fly ."));
        TokenDataset built = new DatasetBuilder().build(corpus, Set.of("a2"));
        DatasetBuilder.write(built, new DatasetBuilder.Provenance("test", "inline", 0.05, 1), dir);
        TokenDataset read = TokenDataset.open(dir);
        assertArrayEquals(built.tokens(), read.tokens());
        assertArrayEquals(built.pos(), read.pos());
        assertArrayEquals(built.wordIndex(), read.wordIndex());
        assertEquals(built.documents(), read.documents());
        assertEquals(built.tags().tags(), read.tags().tags());

        TokenDataset.Document a2 = read.documents().get(1);
        assertEquals("A dog ran far.", new AlignedTokenizer().decode(read.tokens(a2)));
        assertEquals(E, read.tokens()[a2.offset() - 1]);
        assertEquals(List.of(a2), read.documents(true));
        assertEquals(a2.length(), read.tokenCount(true));
        // the held-out stream is EOT + the document; the training stream holds the two others
        assertEquals(a2.length() + 1, read.stream(true).length);
        assertEquals(read.tokenCount(false) + 2, read.stream(false).length);
    }

    @Test
    void trainingWindowsAreSeededShiftedSlices() {
        int[] stream = new int[100];
        for (int i = 0; i < stream.length; i++) stream[i] = 1000 + i;
        Batch a = new WindowSampler(stream, 8, 42).next(5);
        Batch b = new WindowSampler(stream, 8, 42).next(5);
        assertArrayEquals(a.inputs(), b.inputs());
        assertNotEquals(List.of(a.inputs()), List.of(new WindowSampler(stream, 8, 43).next(5).inputs()));
        for (int r = 0; r < 5; r++) {
            int start = a.inputs()[r * 8] - 1000;
            for (int t = 0; t < 8; t++) {
                assertEquals(stream[start + t], a.inputs()[r * 8 + t]);
                assertEquals(stream[start + t + 1], a.targets()[r * 8 + t]);
            }
        }
        assertEquals(40, a.scoredCount());
    }

    @Test
    void heldOutWindowsScoreEveryDocumentTokenOnce() {
        int[] stream = {E, 5, 6, 7, E, 8, 9};
        HeldOutBatches three = new HeldOutBatches(stream, E, 3, 2);
        assertEquals(2, three.windowCount());
        assertEquals(1, three.batchCount());
        Batch b = three.batch(0);
        assertArrayEquals(new int[]{E, 5, 6, 7, E, 8}, b.inputs());
        assertArrayEquals(new int[]{5, 6, 7, I, 8, 9}, b.targets());

        HeldOutBatches four = new HeldOutBatches(stream, E, 4, 1);
        assertEquals(2, four.batchCount());
        assertArrayEquals(new int[]{E, 5, 6, 7}, four.batch(0).inputs());
        assertArrayEquals(new int[]{5, 6, 7, I}, four.batch(0).targets());
        assertArrayEquals(new int[]{E, 8, 9, E}, four.batch(1).inputs());
        assertArrayEquals(new int[]{8, 9, I, I}, four.batch(1).targets());
        int scored = 0;
        for (Batch x : four) scored += x.scoredCount();
        assertEquals(5, scored);
    }

    @Test
    void overlappingHeldOutWindowsStillScoreEveryTokenOnceWithMoreContext() {
        int[] stream = {E, 5, 6, 7, 8, 9, E, 10, 11, 12, 13};
        HeldOutBatches slide = new HeldOutBatches(stream, E, 4, 2, 8);
        // windows start at 0, 2, 4 and 6; after the first, only the last 2 targets count
        assertEquals(4, slide.windowCount());
        Batch b = slide.batch(0);
        assertArrayEquals(new int[]{E, 5, 6, 7, 6, 7, 8, 9, 8, 9, E, 10, E, 10, 11, 12}, b.inputs());
        assertArrayEquals(new int[]{5, 6, 7, 8, I, I, 9, I, I, I, 10, 11, I, I, 12, 13}, b.targets());
        // the same targets as consecutive windows, each exactly once
        java.util.List<Integer> strided = new java.util.ArrayList<>(), plain = new java.util.ArrayList<>();
        for (Batch x : slide) for (int t : x.targets()) if (t != I) strided.add(t);
        for (Batch x : new HeldOutBatches(stream, E, 4, 3)) for (int t : x.targets()) if (t != I) plain.add(t);
        assertEquals(plain, strided);
        assertThrows(IllegalArgumentException.class, () -> new HeldOutBatches(stream, E, 4, 5, 1));
        assertThrows(IllegalArgumentException.class, () -> new HeldOutBatches(stream, E, 4, 0, 1));
    }
}
