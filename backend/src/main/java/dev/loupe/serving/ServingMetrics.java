package dev.loupe.serving;

import dev.loupe.jobs.JobInfo;
import dev.loupe.service.ComputeScheduler;
import dev.loupe.service.JobService;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.Startup;
import jakarta.enterprise.context.ApplicationScoped;

import java.util.Map;

/**
 * Loupe's own meters at {@code /q/metrics} (Prometheus text), beside Quarkus's request latency
 * ({@code http_server_requests_seconds}) and the JVM's: the scheduler's queue, running computations and reserved
 * memory, jobs by state, and the process's resident memory (the heap plus ONNX Runtime's native memory).
 */
@Startup
@ApplicationScoped
public class ServingMetrics {
    private static final long JOB_COUNT_MILLIS = 5000;

    private final JobService jobs;
    private volatile Map<JobInfo.State, Long> jobCounts = Map.of();
    private volatile long jobCountsAt;

    public ServingMetrics(MeterRegistry registry, ComputeScheduler scheduler, JobService jobs) {
        this.jobs = jobs;
        Gauge.builder("loupe.scheduler.running", scheduler, s -> s.stats().running())
                .description("model computations running now").register(registry);
        Gauge.builder("loupe.scheduler.queued", scheduler, s -> s.stats().queued())
                .description("model computations waiting for a slot").register(registry);
        Gauge.builder("loupe.scheduler.memory.reserved", scheduler, s -> s.stats().reservedBytes()).baseUnit("bytes")
                .description("expected peak memory of the running computations").register(registry);
        Gauge.builder("loupe.scheduler.memory.budget", scheduler, s -> s.stats().budgetBytes()).baseUnit("bytes")
                .description("the memory budget computations are admitted against (--max-memory)").register(registry);
        Gauge.builder("loupe.scheduler.concurrency", scheduler, s -> s.limits().concurrency())
                .description("computations allowed to run at once").register(registry);
        FunctionCounter.builder("loupe.scheduler.completed", scheduler, s -> s.stats().completed())
                .description("computations finished").register(registry);
        FunctionCounter.builder("loupe.scheduler.rejected", scheduler, s -> s.stats().rejected())
                .description("requests refused as busy (429/503)").register(registry);
        for (JobInfo.State state : JobInfo.State.values())
            Gauge.builder("loupe.jobs", this, m -> m.jobCount(state)).tag("state", state.name().toLowerCase())
                    .description("jobs in the job table by state").register(registry);
        Gauge.builder("loupe.process.resident.memory", ProcessMemory::residentBytes).baseUnit("bytes")
                .description("resident memory of the process: heap, ONNX Runtime's native memory and the rest").register(registry);
    }

    /** Counted in the table at most every few seconds, so a scraper does not load the database. */
    private double jobCount(JobInfo.State state) {
        long now = System.currentTimeMillis();
        if (now - jobCountsAt > JOB_COUNT_MILLIS) {
            try {
                jobCounts = jobs.countByState();
            } catch (IllegalStateException e) {
                return Double.NaN;
            }
            jobCountsAt = now;
        }
        return jobCounts.getOrDefault(state, 0L);
    }
}
