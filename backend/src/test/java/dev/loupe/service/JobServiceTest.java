package dev.loupe.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.jobs.Busy;
import dev.loupe.jobs.JobInfo;
import dev.loupe.jobs.JobInfo.State;
import dev.loupe.jobs.JobKind;
import dev.loupe.jobs.Progress;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import javax.sql.DataSource;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.logging.Logger;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The job service on a real H2 file with the real migrations. */
@Timeout(60)
class JobServiceTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final List<JobService> services = new ArrayList<>();
    @TempDir Path dir;

    @AfterEach
    void tearDown() { services.forEach(JobService::stop); }

    /** Counts connections taken, to see how often progress is written. */
    static final class CountingDataSource implements DataSource {
        final AtomicInteger connections = new AtomicInteger();
        final JdbcDataSource h2 = new JdbcDataSource();

        @Override public Connection getConnection() throws SQLException {
            connections.incrementAndGet();
            return h2.getConnection();
        }
        @Override public Connection getConnection(String u, String p) throws SQLException { return getConnection(); }
        @Override public PrintWriter getLogWriter() { return null; }
        @Override public void setLogWriter(PrintWriter out) { }
        @Override public void setLoginTimeout(int seconds) { }
        @Override public int getLoginTimeout() { return 0; }
        @Override public Logger getParentLogger() throws SQLFeatureNotSupportedException { throw new SQLFeatureNotSupportedException(); }
        @Override public <T> T unwrap(Class<T> iface) throws SQLException { return h2.unwrap(iface); }
        @Override public boolean isWrapperFor(Class<?> iface) throws SQLException { return h2.isWrapperFor(iface); }
    }

    private CountingDataSource database() throws Exception {
        CountingDataSource ds = new CountingDataSource();
        ds.h2.setURL("jdbc:h2:file:" + dir.resolve("loupe") + ";AUTO_SERVER=FALSE");
        ds.h2.setUser("loupe");
        ds.h2.setPassword("loupe");
        try (Connection c = ds.getConnection(); var st = c.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS applied (version VARCHAR(10))");
            var rs = st.executeQuery("SELECT COUNT(*) FROM applied");
            rs.next();
            if (rs.getInt(1) == 0) {
                List<Path> files;
                try (Stream<Path> s = Files.list(Path.of("src/main/resources/db/migration"))) {
                    files = s.sorted().toList();
                }
                for (Path f : files) {
                    for (String stmt : Files.readString(f).replaceAll("(?m)^--.*$", "").split(";"))
                        if (!stmt.isBlank()) st.execute(stmt);
                }
                st.execute("INSERT INTO applied VALUES ('all')");
            }
        }
        return ds;
    }

    private JobService service(CountingDataSource ds, JobKind... kinds) {
        ComputeScheduler scheduler = new ComputeScheduler(new ComputeScheduler.Limits(2, 8, Duration.ofSeconds(5), 1000, 8));
        JobService s = new JobService(ds, List.of(kinds), scheduler, new JobService.Limits(1, 3, 50));
        s.start();
        services.add(s);
        return s;
    }

    /** A kind whose run is given as a lambda. */
    record Kind(String name, long bytes, Body body) implements JobKind {
        interface Body { String run(JsonNode params, Progress p) throws Exception; }

        @Override public void check(JsonNode params) {
            if (params.path("bad").asBoolean()) throw new IllegalArgumentException("bad is not allowed");
        }
        @Override public long expectedBytes(JsonNode params) { return bytes; }
        @Override public String run(JsonNode params, Progress progress) throws Exception { return body.run(params, progress); }
    }

    private static JobInfo await(JobService s, String id, State state) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        JobInfo j = s.get(id).orElseThrow();
        while (j.state() != state && System.nanoTime() < end) {
            Thread.sleep(20);
            j = s.get(id).orElseThrow();
        }
        assertEquals(state, j.state(), "job " + j);
        return j;
    }

    private static JsonNode params(String json) throws Exception { return JSON.readTree(json); }

    @Test
    void aJobRunsToItsResultAndIsListedForItsOwnerOnly() throws Exception {
        JobService s = service(database(), new Kind("echo", 10, (p, pr) -> "result-" + p.get("n").asInt()));
        String id = s.submit("echo", "alice", params("{\"n\": 7, \"model\": \"m\"}"));
        JobInfo j = await(s, id, State.DONE);
        assertEquals("result-7", j.resultId());
        assertEquals(1.0, j.progress());
        assertEquals(7, j.params().get("n").asInt());
        assertEquals(1, j.attempts());
        assertNotNull(j.startedAt());
        assertNotNull(j.finishedAt());
        assertFalse(j.finishedAt().isBefore(j.createdAt()));
        assertEquals(List.of(id), s.list("alice").stream().map(JobInfo::id).toList());
        assertTrue(s.list("bob").isEmpty());
        assertFalse(s.cancel(id), "a finished job cannot be cancelled");
        assertTrue(s.get("no-such-job").isEmpty());
    }

    @Test
    void badSubmissionsAreRefusedWithTheReason() throws Exception {
        JobService s = service(database(), new Kind("echo", 10, (p, pr) -> "x"));
        var unknown = assertThrows(IllegalArgumentException.class, () -> s.submit("nope", "a", params("{}")));
        assertTrue(unknown.getMessage().contains("nope") && unknown.getMessage().contains("echo"), unknown.getMessage());
        assertEquals("bad is not allowed", assertThrows(IllegalArgumentException.class, () -> s.submit("echo", "a", params("{\"bad\": true}"))).getMessage());
        assertTrue(s.list("a").isEmpty());
    }

    @Test
    void progressIsLiveAndWrittenAtABoundedRate() throws Exception {
        CountDownLatch reported = new CountDownLatch(1), finish = new CountDownLatch(1);
        CountingDataSource ds = database();
        JobService s = service(ds, new Kind("count", 10, (p, pr) -> {
            for (int i = 0; i <= 200_000; i++) pr.report(i / 400_000.0, "step " + i);
            reported.countDown();
            finish.await(10, TimeUnit.SECONDS);
            return "ok";
        }));
        int before = ds.connections.get();
        long t0 = System.nanoTime();
        String id = s.submit("count", "a", params("{}"));
        assertTrue(reported.await(10, TimeUnit.SECONDS));
        long millis = (System.nanoTime() - t0) / 1_000_000;
        JobInfo running = s.get(id).orElseThrow();
        assertEquals(State.RUNNING, running.state());
        assertEquals(0.5, running.progress(), 1e-9);
        assertEquals("step 200000", running.message());
        int writes = ds.connections.get() - before;
        // 200,001 reports: a few writes per second of running, not one per report
        assertTrue(writes <= 8 + 3 * millis / JobService.PROGRESS_WRITE_MILLIS, writes + " connections in " + millis + " ms");
        finish.countDown();
        await(s, id, State.DONE);
    }

    @Test
    void cancellingStopsARunningJobAndAQueuedOneAtOnce() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        JobService s = service(database(), new Kind("loop", 10, (p, pr) -> {
            runs.incrementAndGet();
            while (true) {
                pr.checkCancelled();
                Thread.sleep(10);
            }
        }));
        String running = s.submit("loop", "a", params("{}"));
        await(s, running, State.RUNNING);
        String queued = s.submit("loop", "a", params("{}")); // one worker: waits behind the first
        assertTrue(s.cancel(queued));
        assertEquals(State.CANCELLED, s.get(queued).orElseThrow().state());
        assertTrue(s.cancel(running));
        JobInfo j = await(s, running, State.CANCELLED);
        assertNotNull(j.finishedAt());
        Thread.sleep(100);
        assertEquals(1, runs.get(), "the cancelled queued job never ran");
    }

    @Test
    void aFailingJobKeepsTheReason() throws Exception {
        JobService s = service(database(), new Kind("fail", 10, (p, pr) -> { throw new IllegalStateException("out of tokens"); }));
        JobInfo j = await(s, s.submit("fail", "a", params("{}")), State.FAILED);
        assertEquals("out of tokens", j.error());
    }

    @Test
    void unfinishedJobsPerClientAreLimited() throws Exception {
        CountDownLatch finish = new CountDownLatch(1);
        JobService s = service(database(), new Kind("wait", 10, (p, pr) -> { finish.await(10, TimeUnit.SECONDS); return "ok"; }));
        for (int i = 0; i < 3; i++) s.submit("wait", "a", params("{}"));
        Busy busy = assertThrows(Busy.class, () -> s.submit("wait", "a", params("{}")));
        assertTrue(busy.clientLimit());
        s.submit("wait", "b", params("{}"));
        finish.countDown();
    }

    @Test
    void aRestartQueuesUnfinishedJobsAgainOrFailsThemWithTheReason() throws Exception {
        CountingDataSource ds = database();
        CountDownLatch started = new CountDownLatch(1);
        JobService first = service(ds, new Kind("slow", 10, (p, pr) -> {
            started.countDown();
            pr.report(0.3, "a third");
            Thread.sleep(60_000);
            return "never";
        }), new Kind("gone", 10, (p, pr) -> "x"));
        String slow = first.submit("slow", "a", params("{\"n\": 1}"));
        String queued = first.submit("slow", "a", params("{\"n\": 2}"));
        String gone = first.submit("gone", "a", params("{}"));
        assertTrue(started.await(10, TimeUnit.SECONDS));
        first.stop(); // as a crash: the running job stays RUNNING in the table, the others QUEUED
        assertEquals(State.RUNNING, first.get(slow).orElseThrow().state());

        JobService second = service(database(), new Kind("slow", 10, (p, pr) -> "done-" + p.get("n").asInt()));
        JobInfo again = await(second, slow, State.DONE);
        assertEquals("done-1", again.resultId());
        assertEquals(2, again.attempts());
        assertEquals("done-2", await(second, queued, State.DONE).resultId());
        JobInfo failed = second.get(gone).orElseThrow();
        assertEquals(State.FAILED, failed.state());
        assertTrue(failed.error().contains("'gone' is no longer available"), failed.error());
    }

    @Test
    void aJobInterruptedTooOftenIsFailedInsteadOfRetriedForever() throws Exception {
        CountingDataSource ds = database();
        service(ds);
        try (Connection c = ds.getConnection(); var st = c.createStatement()) {
            st.execute("INSERT INTO jobs (id, kind, owner, params, state, attempts) VALUES ('j1', 'slow', 'a', '{}', 'RUNNING', 3)");
        }
        JobService s = service(database(), new Kind("slow", 10, (p, pr) -> "x"));
        JobInfo j = s.get("j1").orElseThrow();
        assertEquals(State.FAILED, j.state());
        assertTrue(j.error().contains("3 times"), j.error());
    }

    /** The hosted demo runs a kind that writes lasting data only for the models its operator allows, and counts jobs by state. */
    @Test
    void demoRefusesWritingJobsExceptForAllowedModels() throws Exception {
        CountingDataSource ds = database();
        ComputeScheduler scheduler = new ComputeScheduler(new ComputeScheduler.Limits(2, 8, Duration.ofSeconds(5), 1000, 8));
        record Writing(String name) implements JobKind {
            @Override public boolean writes() { return true; }
            @Override public long expectedBytes(JsonNode params) { return 1; }
            @Override public String run(JsonNode params, Progress p) { return "written"; }
        }
        JobService s = new JobService(ds, List.of(new Writing("index"), new Kind("read", 1, (p, pr) -> "r")), scheduler,
                new JobService.Limits(1, 3, 50), new dev.loupe.serving.DemoMode(true, java.util.Optional.of(List.of("allowed"))));
        s.start();
        services.add(s);
        var e = assertThrows(dev.loupe.jobs.NotAllowed.class, () -> s.submit("index", "me", JSON.readTree("{\"model\": \"other\"}")));
        assertTrue(e.getMessage().contains("loupe.demo.index-models") && e.getMessage().contains("'other'"), e.getMessage());
        assertEquals("written", await(s, s.submit("index", "me", JSON.readTree("{\"model\": \"allowed\"}")), State.DONE).resultId());
        assertEquals("r", await(s, s.submit("read", "me", JSON.readTree("{\"model\": \"other\"}")), State.DONE).resultId());
        assertEquals(2L, s.countByState().get(State.DONE));
        assertEquals(0L, s.countByState().get(State.RUNNING));
    }
}
