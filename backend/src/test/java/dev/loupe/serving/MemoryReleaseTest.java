package dev.loupe.serving;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MemoryReleaseTest {
    private static final long S = 1_000_000_000L;

    @Test
    void releasesOnceAfterEachBurstWhenQuietLongEnough() {
        MemoryRelease.Quiet q = new MemoryRelease.Quiet(10 * S);
        assertFalse(q.due(0, 5, 0), "the first look only learns the state");
        assertFalse(q.due(0, 5, 60 * S), "nothing ran since start: nothing to release");
        assertFalse(q.due(2, 5, 61 * S), "running");
        assertFalse(q.due(0, 9, 62 * S), "just finished");
        assertFalse(q.due(0, 9, 71 * S), "quiet for 9 s only");
        assertTrue(q.due(0, 9, 72 * S), "quiet for 10 s after the burst");
        assertFalse(q.due(0, 9, 90 * S), "once per burst");
        assertFalse(q.due(1, 9, 91 * S), "a waiting request counts as busy");
        assertFalse(q.due(0, 9, 100 * S));
        assertTrue(q.due(0, 9, 101 * S), "the next burst is released again");
    }
}
