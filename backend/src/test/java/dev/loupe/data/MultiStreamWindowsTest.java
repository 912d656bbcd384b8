package dev.loupe.data;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link WindowSampler} over several streams mixed by weight. */
class MultiStreamWindowsTest {
    // two streams told apart by their values: a counts up from 0, b from 100000
    private final int[] a = IntStream.range(0, 5000).toArray();
    private final int[] b = IntStream.range(100_000, 101_000).toArray();

    @Test
    void rowsFollowTheWeightsNotTheStreamSizes() {
        WindowSampler s = new WindowSampler(List.of(a, b), new double[]{0.25, 0.75}, 16, 7);
        Batch batch = s.next(4000);
        int fromB = 0;
        for (int r = 0; r < batch.rows(); r++) {
            int first = batch.inputs()[r * 16];
            if (first >= 100_000) fromB++;
            for (int i = 0; i < 16; i++) { // a contiguous slice of one stream, targets shifted by one
                assertEquals(first + i, batch.inputs()[r * 16 + i]);
                assertEquals(first + i + 1, batch.targets()[r * 16 + i]);
            }
        }
        double share = fromB / 4000.0;
        assertTrue(Math.abs(share - 0.75) < 0.03, "share of the second stream " + share);
    }

    @Test
    void oneStreamDrawsNoChoiceSoEarlierRecipesKeepTheirBatches() {
        Batch batch = new WindowSampler(a, 16, 5).next(3);
        java.util.Random random = new java.util.Random(5); // the draws a single-stream sampler has always made
        for (int r = 0; r < 3; r++) assertEquals(random.nextInt(a.length - 16), batch.inputs()[r * 16]);
        assertArrayEquals(batch.inputs(), new WindowSampler(List.of(a), new double[]{3}, 16, 5).next(3).inputs());
    }

    @Test
    void sameSeedSameBatches() {
        Batch x = new WindowSampler(List.of(a, b), new double[]{1, 2}, 8, 11).next(5);
        Batch y = new WindowSampler(List.of(a, b), new double[]{1, 2}, 8, 11).next(5);
        assertArrayEquals(x.inputs(), y.inputs());
        assertArrayEquals(x.targets(), y.targets());
    }

    @Test
    void rejectsBadWeightsAndShortStreams() {
        assertThrows(IllegalArgumentException.class, () -> new WindowSampler(List.of(a, b), new double[]{1, 0}, 8, 1));
        assertThrows(IllegalArgumentException.class, () -> new WindowSampler(List.of(a, b), new double[]{1}, 8, 1));
        assertThrows(IllegalArgumentException.class, () -> new WindowSampler(List.of(a, new int[4]), new double[]{1, 1}, 8, 1));
    }
}
