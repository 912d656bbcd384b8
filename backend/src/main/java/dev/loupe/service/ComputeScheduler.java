package dev.loupe.service;

import dev.loupe.jobs.Busy;
import dev.loupe.jobs.Cancelled;
import dev.loupe.runtime.NativeThreads;
import dev.loupe.runtime.OrtRuntime;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

/**
 * The one gate every model computation passes (explorer views, analyses, jobs): at most {@code concurrency} runs at
 * once, their expected memory summed under a budget, the rest waiting in a bounded FIFO queue for at most a wait limit,
 * and at most {@code perClient} requests of one client running or waiting. Identical requests (same key) in flight are
 * computed once. A computation that calls {@link #run} again from inside runs the inner work inline: it already holds
 * a slot, so it never waits on itself.
 *
 * <p>Admitted work runs on the scheduler's own {@code concurrency} threads, whose CPU priority is lowered by
 * {@code loupe.compute.nice} (as are ONNX Runtime's shared threads): on a busy machine the threads that answer cached
 * results and the UI get the CPU first, and compute takes what is left. A waiting request parks its HTTP worker
 * thread; the queue bound keeps the parked ones well below the worker pool (Quarkus: at least 200).
 */
@ApplicationScoped
public class ComputeScheduler {

    /** The scheduler's limits; {@code memoryBytes} is the budget for the computations' expected peak memory. */
    public record Limits(int concurrency, int queue, Duration maxWait, long memoryBytes, int perClient) {
        public Limits {
            if (concurrency < 1 || queue < 0 || perClient < 1 || memoryBytes < 1)
                throw new IllegalArgumentException("scheduler limits must be positive: " + concurrency + ", " + queue + ", " + perClient + ", " + memoryBytes);
        }
    }

    /** What the scheduler is doing now, for health and metrics. */
    public record Stats(int running, int queued, long reservedBytes, long budgetBytes, long completed, long rejected) {}

    private static final ThreadLocal<Boolean> INSIDE = ThreadLocal.withInitial(() -> false);

    private final Limits limits;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<Object> waiting = new ArrayDeque<>();
    private int running, jobsRunning;
    private long reserved;
    private long completed, rejected;
    private double meanRunMillis = 500;
    private final Map<String, Integer> perClient = new HashMap<>();
    private final ConcurrentHashMap<String, CompletableFuture<Object>> inFlight = new ConcurrentHashMap<>();
    private final ExecutorService compute;

    @Inject
    public ComputeScheduler(@ConfigProperty(name = "loupe.compute.concurrency") Optional<Integer> concurrency,
                            @ConfigProperty(name = "loupe.compute.queue", defaultValue = "64") int queue,
                            @ConfigProperty(name = "loupe.compute.max-wait", defaultValue = "30s") Duration maxWait,
                            @ConfigProperty(name = "loupe.max-memory") Optional<String> maxMemory,
                            @ConfigProperty(name = "loupe.compute.per-client", defaultValue = "8") int perClient,
                            @ConfigProperty(name = "loupe.compute.nice", defaultValue = "10") int nice) {
        this(new Limits(concurrency.filter(n -> n > 0).orElse(Runtime.getRuntime().availableProcessors()), queue, maxWait,
                maxMemory.filter(s -> !s.isBlank()).map(ComputeScheduler::parseBytes).orElse(defaultMemoryBudget()), perClient), nice);
        OrtRuntime.lowerThreadPriority(nice);
    }

    public ComputeScheduler(Limits limits) {
        this(limits, 0);
    }

    /** {@code nice}: how much lower than the caller's the compute threads' CPU priority is (Linux nice values; 0: the same). */
    public ComputeScheduler(Limits limits, int nice) {
        this.limits = limits;
        AtomicInteger n = new AtomicInteger();
        this.compute = Executors.newFixedThreadPool(limits.concurrency(), r -> {
            Thread t = new Thread(() -> {
                NativeThreads.lowerCurrentThreadPriority(nice);
                r.run();
            }, "loupe-compute-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    /** Created before anything else at start-up, so ONNX Runtime's threads are created with the lowered priority. */
    void onStart(@Observes @Priority(1) StartupEvent e) {
        stats();
    }

    public Limits limits() { return limits; }

    /**
     * Runs {@code work} once admitted, in the calling thread, and returns its result.
     *
     * @param client        who asks (for the per-client limit)
     * @param key           identical keys in flight are computed once, the others wait for that result; null: no sharing
     * @param expectedBytes the work's expected peak memory
     * @throws Busy                     the client's limit is reached, or the server is full or the wait ran out
     * @throws IllegalArgumentException the work needs more memory than the whole budget
     */
    public <T> T run(String client, String key, long expectedBytes, Callable<T> work) {
        return run(client, key, expectedBytes, limits.maxWait(), work);
    }

    /** As {@link #run(String, String, long, Callable)}, waiting at most {@code maxWait} (at most the configured limit). */
    public <T> T run(String client, String key, long expectedBytes, Duration maxWait, Callable<T> work) {
        if (INSIDE.get()) return call(work);
        Duration wait = maxWait.compareTo(limits.maxWait()) < 0 ? maxWait : limits.maxWait();
        long deadline = System.nanoTime() + wait.toNanos();
        enterClient(client);
        try {
            if (key == null) return admitted(expectedBytes, deadline, true, () -> false, work);
            CompletableFuture<Object> mine = new CompletableFuture<>();
            CompletableFuture<Object> other = inFlight.putIfAbsent(key, mine);
            if (other != null) return awaitShared(other, deadline);
            try {
                T value = admitted(expectedBytes, deadline, true, () -> false, work);
                mine.complete(value);
                return value;
            } catch (RuntimeException | Error e) {
                mine.completeExceptionally(e);
                throw e;
            } finally {
                inFlight.remove(key, mine);
            }
        } finally {
            leaveClient(client);
        }
    }

    /**
     * Runs long work (a job) once a slot and its memory are free, waiting as long as it takes and outside the queue's
     * bound and the per-client limit (jobs have their own limits); stops waiting with {@link Cancelled} when
     * {@code cancelled} turns true.
     */
    public <T> T runWhenFree(long expectedBytes, BooleanSupplier cancelled, Callable<T> work) {
        if (INSIDE.get()) return call(work);
        return admitted(expectedBytes, Long.MAX_VALUE, false, cancelled, work);
    }

    public Stats stats() {
        lock.lock();
        try {
            return new Stats(running, waiting.size(), reserved, limits.memoryBytes(), completed, rejected);
        } finally {
            lock.unlock();
        }
    }

    private <T> T admitted(long bytes, long deadline, boolean bounded, BooleanSupplier cancelled, Callable<T> work) {
        acquire(bytes, deadline, bounded, cancelled);
        long t0 = System.nanoTime();
        try {
            return onComputeThread(work);
        } finally {
            release(bytes, (System.nanoTime() - t0) / 1e6, !bounded);
        }
    }

    /** Runs admitted work on a compute thread and waits for it; its exceptions come through unchanged. */
    private <T> T onComputeThread(Callable<T> work) {
        Future<T> f = compute.submit(() -> {
            INSIDE.set(true);
            try {
                return work.call();
            } finally {
                INSIDE.set(false);
            }
        });
        try {
            return f.get();
        } catch (InterruptedException e) {
            // the waiter stops (a shutdown); the work is not interrupted, as an interrupt in the middle of a database
            // write closes H2's file: it stops at its own next cancel check
            f.cancel(false);
            Thread.currentThread().interrupt();
            throw new Cancelled();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            if (e.getCause() instanceof Error r) throw r;
            throw new IllegalStateException(e.getCause().getMessage(), e.getCause());
        }
    }

    private void acquire(long bytes, long deadline, boolean bounded, BooleanSupplier cancelled) {
        if (bytes > limits.memoryBytes())
            throw new IllegalArgumentException("this computation needs about " + mb(bytes) + " of memory, more than this server's budget of "
                    + mb(limits.memoryBytes()) + "; ask for less (a shorter prompt, a smaller batch or sweep)");
        lock.lock();
        try {
            if (!bounded) {
                acquireForJob(bytes, cancelled);
                return;
            }
            if (waiting.isEmpty() && fits(bytes)) {
                take(bytes);
                return;
            }
            if (bounded && waiting.size() >= limits.queue()) {
                rejected++;
                throw new Busy(false, retryAfter(), "the server is busy: " + running + " computations running and " + waiting.size()
                        + " waiting; retry shortly");
            }
            Object ticket = new Object();
            waiting.addLast(ticket);
            try {
                while (waiting.peekFirst() != ticket || !fits(bytes)) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        rejected++;
                        throw new Busy(false, retryAfter(), "the server is busy: no compute slot became free in time; retry shortly");
                    }
                    if (cancelled.getAsBoolean()) throw new Cancelled();
                    changed.awaitNanos(Math.min(left, TimeUnit.MILLISECONDS.toNanos(200)));
                }
                take(bytes);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Cancelled();
            } finally {
                waiting.remove(ticket);
                changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Long work waits outside the queue, behind every waiting request (so a waiting job never holds up the views), and
     * takes at most all slots but one when there are several: jobs run side by side and the views still get a slot.
     */
    private void acquireForJob(long bytes, BooleanSupplier cancelled) {
        try {
            while (!waiting.isEmpty() || !fits(bytes) || jobsRunning >= maxJobs()) {
                if (cancelled.getAsBoolean()) throw new Cancelled();
                changed.awaitNanos(TimeUnit.MILLISECONDS.toNanos(200));
            }
            take(bytes);
            jobsRunning++;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Cancelled();
        }
    }

    /** How many slots long work may hold at once. */
    public int maxJobs() { return Math.max(1, limits.concurrency() - 1); }

    private boolean fits(long bytes) {
        return running < limits.concurrency() && reserved + bytes <= limits.memoryBytes();
    }

    private void take(long bytes) {
        running++;
        reserved += bytes;
    }

    private void release(long bytes, double millis, boolean job) {
        lock.lock();
        try {
            running--;
            if (job) jobsRunning--;
            reserved -= bytes;
            completed++;
            meanRunMillis = 0.8 * meanRunMillis + 0.2 * millis;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Seconds until a slot is likely free: the queue ahead times the mean run time, spread over the slots. */
    private int retryAfter() {
        double seconds = (waiting.size() + 1) * meanRunMillis / limits.concurrency() / 1000;
        return (int) Math.max(1, Math.min(60, Math.ceil(seconds)));
    }

    private void enterClient(String client) {
        lock.lock();
        try {
            int n = perClient.getOrDefault(client, 0);
            if (n >= limits.perClient()) {
                rejected++;
                throw new Busy(true, retryAfter(), "too many requests at once: you have " + n + " computations running or waiting (limit "
                        + limits.perClient() + " per client); wait for them to finish");
            }
            perClient.put(client, n + 1);
        } finally {
            lock.unlock();
        }
    }

    private void leaveClient(String client) {
        lock.lock();
        try {
            perClient.computeIfPresent(client, (k, n) -> n <= 1 ? null : n - 1);
        } finally {
            lock.unlock();
        }
    }

    @SuppressWarnings("unchecked")
    private <T> T awaitShared(CompletableFuture<Object> other, long deadline) {
        try {
            return (T) other.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new Busy(false, retryAfter(), "the server is busy: the same computation is still running; retry shortly");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Cancelled();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            if (e.getCause() instanceof Error r) throw r;
            throw new IllegalStateException(e.getCause());
        }
    }

    private static <T> T call(Callable<T> work) {
        try {
            return work.call();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    /** A quarter of the machine's physical memory. */
    public static long defaultMemoryBudget() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os)
            return Math.max(256L << 20, os.getTotalMemorySize() / 4);
        return 1L << 30;
    }

    /** "2g", "512m", "64k" or a number of bytes. */
    public static long parseBytes(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT).replaceAll("i?b$", "");
        long unit = 1;
        if (!t.isEmpty()) {
            switch (t.charAt(t.length() - 1)) {
                case 'k' -> unit = 1L << 10;
                case 'm' -> unit = 1L << 20;
                case 'g' -> unit = 1L << 30;
                case 't' -> unit = 1L << 40;
                default -> unit = 1;
            }
            if (unit > 1) t = t.substring(0, t.length() - 1);
        }
        try {
            double v = Double.parseDouble(t.trim());
            if (!(v > 0) || Double.isInfinite(v)) throw new NumberFormatException();
            return (long) (v * unit);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a memory size: '" + s + "' (use e.g. 2g, 512m or a number of bytes)");
        }
    }

    static String mb(long bytes) {
        return (bytes + (1 << 19)) / (1 << 20) + " MB";
    }
}
