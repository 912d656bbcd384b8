package dev.loupe.serving;

import dev.loupe.runtime.NativeThreads;
import dev.loupe.service.ComputeScheduler;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Gives the memory of a burst back to the OS once the server is quiet again. After many large computations the JVM
 * keeps its grown heap (G1 shrinks it only after a full collection) and glibc keeps the native buffers that ONNX
 * Runtime freed in its malloc arenas, so the process stayed at several times its idle size (docs/DEPLOY.md has the
 * measurement). When no computation has run or waited for {@code loupe.memory.release-after} (default 10 s, 0: never)
 * after some did, this runs one full collection and {@code malloc_trim}.
 */
@ApplicationScoped
public class MemoryRelease {
    private static final Logger LOG = Logger.getLogger(MemoryRelease.class);

    private final ComputeScheduler scheduler;
    private final long quietNanos;
    private ScheduledExecutorService timer;
    private final Quiet quiet;

    public MemoryRelease(ComputeScheduler scheduler, @ConfigProperty(name = "loupe.memory.release-after", defaultValue = "10s") Duration after) {
        this.scheduler = scheduler;
        this.quietNanos = after.toNanos();
        this.quiet = new Quiet(quietNanos);
    }

    void onStart(@Observes StartupEvent e) {
        if (quietNanos <= 0) return;
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "loupe-memory-release");
            t.setDaemon(true);
            return t;
        });
        long period = Math.max(1000, Math.min(5000, TimeUnit.NANOSECONDS.toMillis(quietNanos) / 2));
        timer.scheduleWithFixedDelay(this::check, period, period, TimeUnit.MILLISECONDS);
    }

    void onStop(@Observes ShutdownEvent e) {
        if (timer != null) timer.shutdownNow();
    }

    private void check() {
        try {
            ComputeScheduler.Stats s = scheduler.stats();
            if (quiet.due(s.running() + s.queued(), s.completed(), System.nanoTime())) release();
        } catch (RuntimeException ex) {
            LOG.warnf("memory release failed: %s", ex.getMessage());
        }
    }

    /** One full collection (the heap shrinks to what is live) and malloc_trim (freed native memory goes back). */
    public static void release() {
        long before = ProcessMemory.residentBytes(), heapBefore = committedHeap();
        long t0 = System.nanoTime();
        System.gc();
        boolean trimmed = NativeThreads.releaseFreeNativeMemory();
        LOG.infof("released memory after a burst in %d ms: resident %d -> %d MB, heap committed %d -> %d MB%s",
                (System.nanoTime() - t0) / 1_000_000, before >> 20, ProcessMemory.residentBytes() >> 20, heapBefore >> 20,
                committedHeap() >> 20, trimmed ? "" : " (native memory not trimmed: needs glibc and Java 22+)");
    }

    private static long committedHeap() {
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getCommitted();
    }

    /**
     * When to release: once after each burst, when nothing has run or waited for the quiet time since the last
     * computation finished.
     */
    static final class Quiet {
        private final long quietNanos;
        private long lastCompleted = -1, lastBusy;
        private boolean pending;

        Quiet(long quietNanos) { this.quietNanos = quietNanos; }

        synchronized boolean due(int busy, long completed, long now) {
            if (lastCompleted < 0) {
                lastCompleted = completed;
                lastBusy = now;
                return false;
            }
            if (busy > 0 || completed != lastCompleted) {
                pending = true;
                lastCompleted = completed;
                lastBusy = now;
                return false;
            }
            if (pending && now - lastBusy >= quietNanos) {
                pending = false;
                return true;
            }
            return false;
        }
    }
}
