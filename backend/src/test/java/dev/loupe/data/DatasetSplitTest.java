package dev.loupe.data;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DatasetSplitTest {
    static List<DatasetSplit.Entry> corpus() {
        List<DatasetSplit.Entry> docs = new ArrayList<>();
        for (int i = 1; i <= 44; i++) docs.add(new DatasetSplit.Entry(String.format("ca%02d", i), "news"));
        for (int i = 1; i <= 9; i++) docs.add(new DatasetSplit.Entry(String.format("cr%02d", i), "humor"));
        docs.add(new DatasetSplit.Entry("cz01", "lonely"));
        return docs;
    }

    @Test
    void stratifiedByGenre() {
        Set<String> held = DatasetSplit.heldOut(corpus(), 0.05, 7);
        assertEquals(2, held.stream().filter(id -> id.startsWith("ca")).count()); // round(44 × 0.05)
        assertEquals(1, held.stream().filter(id -> id.startsWith("cr")).count()); // at least one per genre
        assertTrue(held.stream().noneMatch(id -> id.startsWith("cz")));           // a lone document stays in train
    }

    @Test
    void deterministicAndIndependentOfOrder() {
        List<DatasetSplit.Entry> shuffled = new ArrayList<>(corpus());
        Collections.reverse(shuffled);
        Set<String> a = DatasetSplit.heldOut(corpus(), 0.05, 7);
        assertEquals(a, DatasetSplit.heldOut(shuffled, 0.05, 7));
        assertEquals(a, DatasetSplit.heldOut(corpus(), 0.05, 7));
        assertNotEquals(a, DatasetSplit.heldOut(corpus(), 0.05, 8));
    }

    @Test
    void pinnedSplit() {
        // guards against an accidental change of the hash: datasets on disk would silently change their split
        assertEquals(Set.of("ca01", "ca21", "cr04"), DatasetSplit.heldOut(corpus(), 0.05, 1234));
    }
}
