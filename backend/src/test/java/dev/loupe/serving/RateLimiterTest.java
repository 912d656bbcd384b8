package dev.loupe.serving;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RateLimiterTest {
    private static final long SECOND = 1_000_000_000L;

    @Test
    void burstThenOnePerIntervalPerClient() {
        RateLimiter r = new RateLimiter(60);
        for (int i = 0; i < 60; i++) assertEquals(0, r.acquire("a", 0), "request " + i);
        int wait = r.acquire("a", 0);
        assertTrue(wait >= 1 && wait <= 1, "wait " + wait);
        assertEquals(0, r.acquire("b", 0), "another client has its own bucket");
        assertEquals(0, r.acquire("a", SECOND), "one more after a second");
        assertTrue(r.acquire("a", SECOND) > 0);
        for (int i = 0; i < 60; i++) assertEquals(0, r.acquire("a", 120 * SECOND), "refilled after two minutes, request " + i);
        assertTrue(r.acquire("a", 120 * SECOND) > 0, "but not beyond the burst");
    }

    @Test
    void slowRateWaitsLonger() {
        RateLimiter r = new RateLimiter(2);
        assertEquals(0, r.acquire("a", 0));
        assertEquals(0, r.acquire("a", 0));
        assertEquals(30, r.acquire("a", 0));
        assertThrows(IllegalArgumentException.class, () -> new RateLimiter(0));
    }
}
