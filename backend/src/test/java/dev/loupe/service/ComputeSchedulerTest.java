package dev.loupe.service;

import dev.loupe.jobs.Busy;
import dev.loupe.jobs.Cancelled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(30)
class ComputeSchedulerTest {
    private final ExecutorService pool = Executors.newCachedThreadPool();

    @AfterEach
    void tearDown() { pool.shutdownNow(); }

    private static ComputeScheduler scheduler(int concurrency, int queue, long waitMillis, long memory, int perClient) {
        return new ComputeScheduler(new ComputeScheduler.Limits(concurrency, queue, Duration.ofMillis(waitMillis), memory, perClient));
    }

    /** Runs {@code n} computations of {@code bytes} at once from distinct clients; returns the most seen running together. */
    private int maxTogether(ComputeScheduler s, int n, long bytes) throws Exception {
        AtomicInteger now = new AtomicInteger(), max = new AtomicInteger();
        List<Future<Integer>> fs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String client = "c" + i;
            fs.add(pool.submit(() -> s.run(client, null, bytes, () -> {
                max.accumulateAndGet(now.incrementAndGet(), Math::max);
                Thread.sleep(40);
                now.decrementAndGet();
                return 1;
            })));
        }
        for (Future<Integer> f : fs) assertEquals(1, f.get());
        return max.get();
    }

    @Test
    void runsAtMostConcurrencyAtOnce() throws Exception {
        ComputeScheduler s = scheduler(2, 16, 10_000, 1000, 8);
        assertEquals(2, maxTogether(s, 8, 1));
        assertEquals(0, s.stats().running());
        assertEquals(8, s.stats().completed());
    }

    @Test
    void admitsAgainstTheMemoryBudget() throws Exception {
        ComputeScheduler s = scheduler(4, 16, 10_000, 100, 8);
        assertEquals(1, maxTogether(s, 4, 60)); // two of 60 do not fit in 100
        assertEquals(2, maxTogether(s, 4, 50));
        assertEquals(0, s.stats().reservedBytes());
    }

    @Test
    void workLargerThanTheWholeBudgetIsRefusedWithTheSizes() {
        ComputeScheduler s = scheduler(2, 16, 1000, 10L << 20, 8);
        var e = assertThrows(IllegalArgumentException.class, () -> s.run("a", null, 20L << 20, () -> 1));
        assertTrue(e.getMessage().contains("20 MB") && e.getMessage().contains("10 MB"), e.getMessage());
    }

    /** Occupies the only slot until the returned latch is counted down. */
    private CountDownLatch occupy(ComputeScheduler s, String client) throws InterruptedException {
        CountDownLatch release = new CountDownLatch(1), started = new CountDownLatch(1);
        pool.submit(() -> s.run(client, null, 1, () -> {
            started.countDown();
            return release.await(20, TimeUnit.SECONDS);
        }));
        assertTrue(started.await(5, TimeUnit.SECONDS));
        return release;
    }

    @Test
    void aFullQueueIsBusyForTheServer() throws Exception {
        ComputeScheduler s = scheduler(1, 1, 10_000, 100, 8);
        CountDownLatch release = occupy(s, "a");
        Future<Integer> queued = pool.submit(() -> s.run("b", null, 1, () -> 2));
        while (s.stats().queued() < 1) Thread.sleep(5);
        Busy busy = assertThrows(Busy.class, () -> s.run("c", null, 1, () -> 3));
        assertFalse(busy.clientLimit());
        assertTrue(busy.retryAfterSeconds() >= 1);
        release.countDown();
        assertEquals(2, queued.get());
        assertEquals(1, s.stats().rejected());
    }

    @Test
    void waitingPastTheLimitIsBusyForTheServer() throws Exception {
        ComputeScheduler s = scheduler(1, 8, 150, 100, 8);
        CountDownLatch release = occupy(s, "a");
        long t0 = System.nanoTime();
        Busy busy = assertThrows(Busy.class, () -> s.run("b", null, 1, () -> 2));
        long waited = (System.nanoTime() - t0) / 1_000_000;
        assertFalse(busy.clientLimit());
        assertTrue(waited >= 140 && waited < 3000, "waited " + waited + " ms");
        release.countDown();
        assertEquals(5, s.run("b", null, 1, () -> 5)); // the slot is free again
    }

    @Test
    void aClientOverItsLimitIsBusyForThatClientOnly() throws Exception {
        ComputeScheduler s = scheduler(4, 16, 10_000, 100, 2);
        CountDownLatch r1 = occupy(s, "greedy"), r2 = occupy(s, "greedy");
        Busy busy = assertThrows(Busy.class, () -> s.run("greedy", null, 1, () -> 1));
        assertTrue(busy.clientLimit());
        assertTrue(busy.getMessage().contains("limit 2"), busy.getMessage());
        assertEquals(7, s.run("other", null, 1, () -> 7));
        r1.countDown();
        r2.countDown();
        while (s.stats().running() > 0) Thread.sleep(5);
        assertEquals(8, s.run("greedy", null, 1, () -> 8));
    }

    @Test
    void identicalKeysInFlightAreComputedOnce() throws Exception {
        ComputeScheduler s = scheduler(4, 16, 10_000, 100, 8);
        AtomicInteger computed = new AtomicInteger();
        CountDownLatch go = new CountDownLatch(1);
        List<Future<String>> fs = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            String client = "c" + i;
            fs.add(pool.submit(() -> s.run(client, "same", 1, () -> {
                computed.incrementAndGet();
                go.await(5, TimeUnit.SECONDS);
                return "value";
            })));
        }
        Thread.sleep(200); // every caller has joined the one computation
        go.countDown();
        for (Future<String> f : fs) assertEquals("value", f.get());
        assertEquals(1, computed.get());
        assertEquals(1, s.run("c0", "same", 1, computed::incrementAndGet) - 1); // finished keys are computed again
    }

    @Test
    void aFailureReachesEverySharerAndFreesTheSlot() {
        ComputeScheduler s = scheduler(1, 4, 1000, 100, 8);
        var e = assertThrows(IllegalStateException.class, () -> s.run("a", "k", 1, () -> { throw new IllegalStateException("boom"); }));
        assertEquals("boom", e.getMessage());
        assertEquals(0, s.stats().running());
        assertEquals(3, s.run("a", "k", 1, () -> 3));
    }

    @Test
    void aNestedCallNeverWaitsOnItself() {
        ComputeScheduler s = scheduler(1, 0, 200, 100, 1);
        // one slot, no queue, one request per client: only an inline inner run can finish
        int v = s.run("a", "outer", 80, () -> s.run("a", "outer", 80, () -> s.run("a", "inner", 80, () -> 42)));
        assertEquals(42, v);
    }

    @Test
    void longWorkWaitsForAFreeSlotAndStopsWaitingWhenCancelled() throws Exception {
        ComputeScheduler s = scheduler(1, 0, 50, 100, 8);
        CountDownLatch release = occupy(s, "a");
        AtomicBoolean cancel = new AtomicBoolean();
        Future<Integer> job = pool.submit(() -> s.runWhenFree(1, cancel::get, () -> 9));
        Thread.sleep(300); // far past the wait limit of requests: a job keeps waiting
        assertFalse(job.isDone());
        release.countDown();
        assertEquals(9, job.get());

        CountDownLatch again = occupy(s, "a");
        Future<Integer> cancelled = pool.submit(() -> s.runWhenFree(1, cancel::get, () -> 10));
        Thread.sleep(100);
        cancel.set(true);
        var e = assertThrows(java.util.concurrent.ExecutionException.class, cancelled::get);
        assertTrue(e.getCause() instanceof Cancelled);
        again.countDown();
    }

    @Test
    void jobsRunSideBySideButLeaveASlotToRequests() throws Exception {
        ComputeScheduler s = scheduler(3, 8, 2000, 100, 8);
        assertEquals(2, s.maxJobs());
        AtomicInteger now = new AtomicInteger(), max = new AtomicInteger();
        CountDownLatch hold = new CountDownLatch(1);
        List<Future<Integer>> jobs = new ArrayList<>();
        for (int i = 0; i < 3; i++)
            jobs.add(pool.submit(() -> s.runWhenFree(1, () -> false, () -> {
                max.accumulateAndGet(now.incrementAndGet(), Math::max);
                hold.await(10, TimeUnit.SECONDS);
                now.decrementAndGet();
                return 1;
            })));
        Thread.sleep(200);
        assertEquals(2, now.get(), "two of three jobs run at once");
        // the third job waits, and a request still finds the slot left to requests at once
        long t0 = System.nanoTime();
        assertEquals(5, (int) s.run("view", null, 1, () -> 5));
        assertTrue((System.nanoTime() - t0) / 1e6 < 1000);
        hold.countDown();
        for (Future<Integer> f : jobs) assertEquals(1, f.get());
        assertEquals(2, max.get());
        assertEquals(1, scheduler(1, 0, 50, 100, 8).maxJobs(), "one slot: a job may take it");
    }

    @Test
    void computationsRunOnTheSchedulersOwnThreads() {
        ComputeScheduler s = scheduler(2, 0, 50, 100, 8);
        String caller = Thread.currentThread().getName();
        assertTrue(s.run("a", null, 1, () -> Thread.currentThread().getName()).startsWith("loupe-compute-"));
        assertEquals("loupe-compute", s.run("a", null, 1, () -> s.run("a", null, 1, () -> Thread.currentThread().getName())).replaceAll("-\\d+$", ""),
                "a nested run stays on its compute thread");
        assertEquals(caller, Thread.currentThread().getName());
        var e = assertThrows(IllegalStateException.class, () -> s.run("a", null, 1, () -> { throw new IllegalStateException("boom"); }));
        assertEquals("boom", e.getMessage(), "exceptions come through unchanged");
    }

    @Test
    void memorySizesParse() {
        assertEquals(2L << 30, ComputeScheduler.parseBytes("2g"));
        assertEquals(512L << 20, ComputeScheduler.parseBytes("512M"));
        assertEquals(1536L << 20, ComputeScheduler.parseBytes("1.5GB"));
        assertEquals(1000, ComputeScheduler.parseBytes("1000"));
        assertThrows(IllegalArgumentException.class, () -> ComputeScheduler.parseBytes("lots"));
        assertThrows(IllegalArgumentException.class, () -> ComputeScheduler.parseBytes("-1g"));
        assertTrue(ComputeScheduler.defaultMemoryBudget() >= 256L << 20);
    }
}
