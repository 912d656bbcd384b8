package dev.loupe.service;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import dev.loupe.jobs.Busy;
import dev.loupe.jobs.Cancelled;
import dev.loupe.jobs.JobInfo;
import dev.loupe.jobs.JobInfo.State;
import dev.loupe.jobs.JobKind;
import dev.loupe.jobs.Progress;
import dev.loupe.serving.DemoMode;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Long work as jobs: each job is a row of the H2 {@code jobs} table (kind, owner, parameters, state, progress, result,
 * error, times) and runs on a small worker pool, admitted by the {@link ComputeScheduler} against the memory budget.
 * Progress is kept in memory and written to the table at most every {@link #PROGRESS_WRITE_MILLIS}. After a restart
 * (also a crash) every unfinished job is queued again, or failed with the reason when its kind is gone or it was
 * interrupted {@link #MAX_ATTEMPTS} times.
 */
@ApplicationScoped
public class JobService {
    private static final Logger LOG = Logger.getLogger(JobService.class);
    static final long PROGRESS_WRITE_MILLIS = 500;
    static final int MAX_ATTEMPTS = 3;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** How many jobs run at once, and how many unfinished jobs one client and the whole server may have. */
    public record Limits(int workers, int perClient, int maxQueued) {}

    private final DataSource dataSource;
    private final ComputeScheduler scheduler;
    private final Map<String, JobKind> kinds = new LinkedHashMap<>();
    private final Limits limits;
    private final DemoMode demo;
    private final Map<String, Live> active = new ConcurrentHashMap<>();
    private ExecutorService workers;
    private volatile boolean stopping;

    @Inject
    public JobService(DataSource dataSource, Instance<JobKind> kinds, ComputeScheduler scheduler,
                      @ConfigProperty(name = "loupe.jobs.workers") Optional<Integer> workers,
                      @ConfigProperty(name = "loupe.jobs.per-client", defaultValue = "4") int perClient,
                      @ConfigProperty(name = "loupe.jobs.max-queued", defaultValue = "200") int maxQueued, DemoMode demo) {
        this(dataSource, kinds.stream().toList(), scheduler, new Limits(
                workers.filter(n -> n > 0).orElse(Math.max(2, Runtime.getRuntime().availableProcessors() / 2)), perClient, maxQueued), demo);
    }

    public JobService(DataSource dataSource, List<JobKind> kinds, ComputeScheduler scheduler, Limits limits) {
        this(dataSource, kinds, scheduler, limits, DemoMode.off());
    }

    public JobService(DataSource dataSource, List<JobKind> kinds, ComputeScheduler scheduler, Limits limits, DemoMode demo) {
        this.dataSource = dataSource;
        this.scheduler = scheduler;
        this.limits = limits;
        this.demo = demo;
        for (JobKind k : kinds) {
            JobKind old = this.kinds.put(k.name(), k);
            if (old != null) throw new IllegalStateException("two job kinds named '" + k.name() + "': " + old.getClass() + " and " + k.getClass());
        }
    }

    void onStart(@Observes StartupEvent e) { start(); }

    void onStop(@Observes ShutdownEvent e) { stop(); }

    /** Starts the workers and recovers the jobs a previous run left unfinished. */
    public synchronized void start() {
        if (workers != null) return;
        AtomicInteger n = new AtomicInteger();
        workers = Executors.newFixedThreadPool(limits.workers(), r -> {
            Thread t = new Thread(r, "loupe-job-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        recover();
    }

    /** Stops the workers; running jobs stay RUNNING in the table and are queued again by the next start. */
    public synchronized void stop() {
        if (workers == null) return;
        stopping = true;
        active.values().forEach(l -> l.cancel = true);
        workers.shutdownNow();
        try {
            workers.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
        }
    }

    public List<String> kinds() { return List.copyOf(kinds.keySet()); }

    /**
     * Queues a job and returns its id.
     *
     * @throws IllegalArgumentException the kind is unknown or the parameters are wrong (the kind's {@link JobKind#check})
     * @throws Busy                     the owner or the server has too many unfinished jobs
     * @throws dev.loupe.jobs.NotAllowed the hosted demo does not run this kind for this model (see {@link DemoMode})
     */
    public String submit(String kind, String owner, JsonNode params) {
        JobKind k = kinds.get(kind);
        if (k == null)
            throw new IllegalArgumentException("unknown job kind '" + kind + "'" + (kinds.isEmpty() ? "" : "; known: " + String.join(", ", kinds.keySet())));
        JsonNode p = params == null ? NullNode.instance : params;
        if (k.writes()) demo.checkWrite("the job '" + kind + "'", p.path("model").asText(null));
        k.check(p);
        String id = UUID.randomUUID().toString();
        synchronized (active) {
            long mine = active.values().stream().filter(l -> l.owner.equals(owner)).count();
            if (mine >= limits.perClient())
                throw new Busy(true, 10, "you have " + mine + " unfinished jobs (limit " + limits.perClient() + " per client); wait for one to finish or cancel one");
            if (active.size() >= limits.maxQueued())
                throw new Busy(false, 30, "the server has " + active.size() + " unfinished jobs; retry later");
            insert(id, kind, owner, p);
            active.put(id, new Live(id, owner));
        }
        workers().execute(() -> execute(id));
        return id;
    }

    /** How many jobs are in each state (for the metrics). */
    public Map<State, Long> countByState() {
        Map<State, Long> counts = new java.util.EnumMap<>(State.class);
        for (State st : State.values()) counts.put(st, 0L);
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement("SELECT state, COUNT(*) FROM jobs GROUP BY state");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) counts.put(State.valueOf(rs.getString(1)), rs.getLong(2));
        } catch (SQLException e) {
            throw new IllegalStateException("job table unavailable: " + e.getMessage(), e);
        }
        return counts;
    }

    public Optional<JobInfo> get(String id) {
        if (id == null || id.length() > 64) return Optional.empty();
        List<JobInfo> rows = query("SELECT * FROM jobs WHERE id = ?", id);
        // read as running, but no longer live when its fresh progress was looked up: it finished in between, and the
        // row holds the last progress written (up to PROGRESS_WRITE_MILLIS old), so read the finished row
        if (!rows.isEmpty() && rows.get(0).state() == State.RUNNING && !active.containsKey(id)) rows = query("SELECT * FROM jobs WHERE id = ?", id);
        return rows.isEmpty() ? Optional.empty() : Optional.of(rows.get(0));
    }

    /** The owner's jobs, newest first (at most 200). */
    public List<JobInfo> list(String owner) {
        return query("SELECT * FROM jobs WHERE owner = ? ORDER BY created_at DESC, id LIMIT 200", owner);
    }

    /**
     * Asks a job to stop: a queued job is cancelled at once, a running one when it next checks {@link Progress#cancelled()}.
     *
     * @return false when the job is unknown or already finished
     */
    public boolean cancel(String id) {
        Live live = id == null ? null : active.get(id);
        if (live == null) return false;
        synchronized (live) {
            live.cancel = true;
            if (!live.started) {
                finish(id, State.CANCELLED, null, null, "cancelled before it started");
                active.remove(id);
            }
        }
        return true;
    }

    // ---------------------------------------------------------------- running

    private ExecutorService workers() {
        if (workers == null) throw new IllegalStateException("the job service is not started");
        return workers;
    }

    private void execute(String id) {
        Live live = active.get(id);
        if (live == null) return;
        synchronized (live) {
            if (live.cancel) return;
            live.started = true;
        }
        JobInfo job = get(id).orElse(null);
        JobKind kind = job == null ? null : kinds.get(job.kind());
        try {
            if (kind == null) {
                finish(id, State.FAILED, null, "the job kind is not available", null);
                return;
            }
            update("UPDATE jobs SET state = 'RUNNING', started_at = CURRENT_TIMESTAMP, attempts = attempts + 1, message = ?, "
                    + "updated_at = CURRENT_TIMESTAMP WHERE id = ?", "waiting for a compute slot", id);
            JsonNode params = job.params();
            String result = kind.schedulesItself() ? kind.run(params, live)
                    : scheduler.runWhenFree(kind.expectedBytes(params), live::cancelled, () -> kind.run(params, live));
            finish(id, State.DONE, result, null, "done");
        } catch (Cancelled c) {
            if (!stopping) {
                live.flush(); // where it stopped, not the last throttled write
                finish(id, State.CANCELLED, null, null, "cancelled");
            }
        } catch (Throwable t) {
            if (stopping) return; // interrupted by the shutdown: the next start queues it again
            live.flush();
            String reason = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
            if (!(t instanceof IllegalArgumentException)) LOG.errorf(t, "job %s (%s) failed", id, job.kind());
            finish(id, State.FAILED, null, reason, null);
        } finally {
            active.remove(id);
        }
    }

    /** Queues again what a previous run left unfinished, or fails it with the reason. */
    private void recover() {
        List<JobInfo> unfinished = query("SELECT * FROM jobs WHERE state IN ('QUEUED', 'RUNNING') ORDER BY created_at, id");
        for (JobInfo j : unfinished) {
            if (!kinds.containsKey(j.kind())) {
                finish(j.id(), State.FAILED, null, "interrupted by a restart, and the job kind '" + j.kind() + "' is no longer available", null);
            } else if (j.attempts() >= MAX_ATTEMPTS) {
                finish(j.id(), State.FAILED, null, "interrupted by a restart " + j.attempts() + " times; not started again", null);
            } else {
                update("UPDATE jobs SET state = 'QUEUED', progress = 0, message = ?, updated_at = CURRENT_TIMESTAMP WHERE id = ?",
                        j.state() == State.RUNNING ? "queued again after a restart" : j.message(), j.id());
                active.put(j.id(), new Live(j.id(), j.owner() == null ? "" : j.owner()));
                workers.execute(() -> execute(j.id()));
            }
        }
        if (!unfinished.isEmpty()) LOG.infof("recovered %d unfinished jobs", unfinished.size());
    }

    /** A running job's progress: kept in memory, written to the table at a bounded rate. */
    private final class Live implements Progress {
        final String id, owner;
        volatile boolean cancel, started;
        volatile double fraction;
        volatile String message;
        private long lastWrite;

        Live(String id, String owner) {
            this.id = id;
            this.owner = owner;
        }

        @Override
        public void report(double f, String msg) {
            if (!Double.isNaN(f)) fraction = Math.max(0, Math.min(1, f));
            if (msg != null) message = msg.length() > 2000 ? msg.substring(0, 2000) : msg;
            long now = System.currentTimeMillis();
            if (now - lastWrite >= PROGRESS_WRITE_MILLIS) {
                lastWrite = now;
                update("UPDATE jobs SET progress = ?, message = ?, updated_at = CURRENT_TIMESTAMP WHERE id = ? AND state = 'RUNNING'",
                        fraction, message, id);
            }
        }

        @Override
        public boolean cancelled() { return cancel; }

        /** Writes the last progress reported, whenever it came. */
        void flush() {
            update("UPDATE jobs SET progress = ?, updated_at = CURRENT_TIMESTAMP WHERE id = ? AND state = 'RUNNING'", fraction, id);
        }
    }

    // ---------------------------------------------------------------- table

    private void insert(String id, String kind, String owner, JsonNode params) {
        String model = params.path("model").isTextual() ? truncate(params.get("model").asText(), 200) : null;
        update("INSERT INTO jobs (id, kind, model, owner, params, state, progress, message) VALUES (?, ?, ?, ?, ?, 'QUEUED', 0, 'queued')",
                id, kind, model, truncate(owner, 200), toJson(params));
    }

    private void finish(String id, State state, String resultId, String error, String message) {
        update("UPDATE jobs SET state = ?, result_key = ?, error = ?, message = COALESCE(?, message), "
                        + "progress = CASE WHEN ? = 'DONE' THEN 1 ELSE progress END, finished_at = CURRENT_TIMESTAMP, updated_at = CURRENT_TIMESTAMP WHERE id = ?",
                state.name(), resultId, error == null ? null : truncate(error, 4000), message, state.name(), id);
    }

    private void update(String sql, Object... args) {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) ps.setObject(i + 1, args[i]);
            ps.executeUpdate();
        } catch (SQLException e) {
            throw new IllegalStateException("job table unavailable: " + e.getMessage(), e);
        }
    }

    private List<JobInfo> query(String sql, Object... args) {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) ps.setObject(i + 1, args[i]);
            List<JobInfo> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) out.add(row(rs));
            }
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException("job table unavailable: " + e.getMessage(), e);
        }
    }

    private JobInfo row(ResultSet rs) throws SQLException {
        String id = rs.getString("id");
        State state = State.valueOf(rs.getString("state"));
        double progress = rs.getDouble("progress");
        String message = rs.getString("message");
        Live live = active.get(id);
        if (live != null && state == State.RUNNING && live.message != null) { // fresher than the last write
            progress = live.fraction;
            message = live.message;
        }
        return new JobInfo(id, rs.getString("kind"), rs.getString("owner"), parse(rs.getString("params")), state, progress, message,
                rs.getString("result_key"), rs.getString("error"), instant(rs.getTimestamp("created_at")),
                instant(rs.getTimestamp("started_at")), instant(rs.getTimestamp("finished_at")), rs.getInt("attempts"));
    }

    private static Instant instant(Timestamp t) { return t == null ? null : t.toInstant(); }

    private static String toJson(JsonNode n) {
        try {
            return JSON.writeValueAsString(n);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("job parameters are not JSON: " + e.getMessage());
        }
    }

    private static JsonNode parse(String s) {
        try {
            return s == null ? NullNode.instance : JSON.readTree(s);
        } catch (JsonProcessingException e) {
            return NullNode.instance;
        }
    }

    private static String truncate(String s, int max) { return s == null || s.length() <= max ? s : s.substring(0, max); }
}
