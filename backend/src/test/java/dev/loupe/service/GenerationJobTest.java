package dev.loupe.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.api.ApiException;
import dev.loupe.api.ExplorerResource;
import dev.loupe.api.JobResource;
import dev.loupe.api.PatchingResource;
import dev.loupe.jobs.JobInfo;
import dev.loupe.model.GptConfig;
import dev.loupe.store.ResultCache;
import jakarta.ws.rs.core.Response;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Generation over REST as a job, on the resources themselves with the real job service, result cache and H2
 * migrations (no HTTP server): a long or {@code job=true} request answers 202 naming the job and the result, the job
 * reports tokens generated / tokens asked, its result is the synchronous answer of the same request, and a cancelled
 * job stops between tokens and stores nothing.
 */
@Timeout(180)
class GenerationJobTest {
    static final String MODEL = "g-gpt2";
    static final ObjectMapper JSON = new ObjectMapper();
    static final Pattern TOKENS = Pattern.compile("(\\d+) of (\\d+) tokens");
    static Path dir;
    static ModelEngines engines;
    static final List<JobService> services = new ArrayList<>();

    /** The explorer's REST resource and the jobs' resource on one data folder. */
    record Api(Explorer explorer, ExplorerResource explorerResource, JobResource jobResource, JobService jobs) {}

    @BeforeAll
    static void setUp() throws Exception {
        dir = Files.createTempDirectory("loupe-generation-job-test");
        Path models = Files.createDirectories(dir.resolve("models"));
        // a context of 512 leaves room for long generations
        ExplorerServiceTest.writeModel(models.resolve(MODEL), MODEL, new GptConfig(2, 4, 64, 128, 512, 50257), false, "{\"type\":\"gpt2\"}");
        engines = new ModelEngines(new ModelCatalog(models.toString()));
    }

    @AfterAll
    static void tearDown() {
        services.forEach(JobService::stop);
        engines.close();
    }

    /** Resources on a fresh database in {@code name}, synchronous up to {@code syncTokens} new tokens. */
    static Api api(String name, int syncTokens) throws Exception {
        JdbcDataSource ds = new JdbcDataSource();
        ds.setURL("jdbc:h2:file:" + dir.resolve(name + "/loupe") + ";AUTO_SERVER=FALSE");
        List<Path> migrations;
        try (Stream<Path> s = Files.list(Path.of("src/main/resources/db/migration"))) {
            migrations = s.sorted().toList();
        }
        try (Connection c = ds.getConnection(); var st = c.createStatement()) {
            for (Path f : migrations)
                for (String stmt : Files.readString(f).replaceAll("(?m)^--.*$", "").split(";")) if (!stmt.isBlank()) st.execute(stmt);
        }
        ComputeScheduler scheduler = new ComputeScheduler(new ComputeScheduler.Limits(2, 16, Duration.ofSeconds(30), 1L << 30, 8));
        Explorer explorer = new Explorer(new ModelCatalog(dir.resolve("models").toString()), engines, new ResultCache(ds), scheduler, Optional.empty());
        JobService jobs = new JobService(ds, List.of(new GenerationJobKind(explorer)), scheduler, new JobService.Limits(1, 8, 50));
        jobs.start();
        services.add(jobs);
        return new Api(explorer, new ExplorerResource(explorer, null, jobs, syncTokens), new JobResource(jobs), jobs);
    }

    static Response generate(Api a, String text, int maxNew, double temperature, int topK, long seed, boolean job) {
        return a.explorerResource().generate(MODEL, null, text, maxNew, temperature, topK, seed, false, job);
    }

    static JsonNode body(Response r) throws Exception {
        return JSON.readTree((byte[]) r.getEntity());
    }

    /** Polls a job until it finishes, keeping every (progress, message) it reported on the way. */
    static JobInfo awaitFinished(Api a, String id, List<JobInfo> seen) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(150).toNanos();
        JobInfo j = a.jobResource().get(id);
        while (!j.finished() && System.nanoTime() < end) {
            if (j.state() == JobInfo.State.RUNNING && j.progress() > 0) seen.add(j);
            Thread.sleep(5);
            j = a.jobResource().get(id);
        }
        assertTrue(j.finished(), "job still " + j);
        return j;
    }

    /** Every progress seen is k/n with its message "k of n tokens", and never goes back. */
    static void checkProgress(List<JobInfo> seen, int asked) {
        double last = 0;
        for (JobInfo j : seen) {
            Matcher m = TOKENS.matcher(j.message());
            assertTrue(m.matches(), j.message());
            assertEquals(asked, Integer.parseInt(m.group(2)));
            // the fraction and the message are updated one after the other: they may be a token apart
            assertEquals(Integer.parseInt(m.group(1)) / (double) asked, j.progress(), 1.0 / asked + 1e-9, j.toString());
            assertTrue(j.progress() >= last, "progress went back: " + seen);
            last = j.progress();
        }
    }

    @Test
    void aLongGenerationRunsAsAJobWhoseResultIsTheSynchronousAnswer() throws Exception {
        Api a = api("long", 64);
        String prompt = "The cat sat on the";
        Response started = generate(a, prompt, 120, 1.0, 50, 7, false);
        assertEquals(202, started.getStatus(), "120 new tokens are over the 64 answered at once");
        var s = (PatchingResource.Started) started.getEntity();
        assertEquals("generate", s.job().kind());
        assertEquals("/api/v1/jobs/" + s.job().id(), started.getHeaderString("Location"));
        assertEquals(s.resultId(), started.getHeaderString("X-Loupe-Result"));
        assertEquals("/api/v1/models/" + MODEL + "/generate/" + s.resultId(), s.result());
        assertEquals(MODEL, s.job().params().get("model").asText());
        // not stored before the job is done
        assertEquals(404, assertThrows(ApiException.class, () -> a.explorerResource().generated(MODEL, s.resultId())).status().getStatusCode());

        List<JobInfo> seen = new ArrayList<>();
        JobInfo done = awaitFinished(a, s.job().id(), seen);
        assertEquals(JobInfo.State.DONE, done.state(), done.toString());
        assertEquals(1.0, done.progress());
        assertEquals(s.resultId(), done.resultId());
        checkProgress(seen, 120);

        JsonNode job = body(a.explorerResource().generated(MODEL, s.resultId()));
        assertEquals(s.resultId(), job.get("key").asText());
        assertEquals(120, job.get("result").get("steps").size());

        // the same request answered synchronously by a server that has never seen it (its own database, no job)
        Api fresh = api("fresh", 512);
        Response sync = generate(fresh, prompt, 120, 1.0, 50, 7, false);
        assertEquals(200, sync.getStatus());
        assertEquals("miss", sync.getHeaderString("X-Loupe-Cache"));
        assertEquals(s.resultId(), sync.getHeaderString("X-Loupe-Result"), "the result id is the synchronous answer's key");
        assertEquals(body(sync).get("result"), job.get("result"));
        // another seed is another continuation
        assertFalse(body(generate(fresh, prompt, 120, 1.0, 50, 8, false)).get("result").equals(job.get("result")));

        // once stored, the same request is answered at once, even asked as a job
        Response again = generate(a, prompt, 120, 1.0, 50, 7, true);
        assertEquals(200, again.getStatus());
        assertEquals("hit", again.getHeaderString("X-Loupe-Cache"));
        assertEquals(job.get("result"), body(again).get("result"));

        // short requests stay synchronous unless asked as a job
        assertEquals(200, generate(a, prompt, 10, 0, 0, 0, false).getStatus());
        Response asked = generate(a, prompt, 11, 0, 0, 0, true);
        assertEquals(202, asked.getStatus());
        JobInfo small = awaitFinished(a, ((PatchingResource.Started) asked.getEntity()).job().id(), new ArrayList<>());
        assertEquals(JobInfo.State.DONE, small.state(), small.toString());
        assertEquals(11, body(a.explorerResource().generated(MODEL, small.resultId())).get("result").get("steps").size());

        // bad input is a 400 before any job starts; an id of nothing stored is a 404, a malformed one a 400
        assertEquals(400, assertThrows(ApiException.class, () -> generate(a, prompt, 600, 0, 0, 0, true)).status().getStatusCode());
        assertEquals(404, assertThrows(ApiException.class, () -> a.explorerResource().generated(MODEL, "0".repeat(64))).status().getStatusCode());
        assertEquals(400, assertThrows(ApiException.class, () -> a.explorerResource().generated(MODEL, "nope")).status().getStatusCode());
    }

    @Test
    void aCancelledGenerationStopsBetweenTokensAndStoresNothing() throws Exception {
        Api a = api("cancel", 64);
        String prompt = "Once upon a time";
        Response started = generate(a, prompt, 500, 0, 0, 0, false);
        assertEquals(202, started.getStatus());
        var s = (PatchingResource.Started) started.getEntity();
        String id = s.job().id();
        long end = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        JobInfo j = a.jobResource().get(id);
        while (!(j.state() == JobInfo.State.RUNNING && j.progress() > 0) && !j.finished() && System.nanoTime() < end) {
            Thread.sleep(2);
            j = a.jobResource().get(id);
        }
        assertEquals(JobInfo.State.RUNNING, j.state(), "the job generates its first tokens: " + j);
        a.jobResource().cancel(id);
        List<JobInfo> seen = new ArrayList<>(List.of(j));
        JobInfo last = awaitFinished(a, id, seen);
        assertEquals(JobInfo.State.CANCELLED, last.state(), last.toString());
        assertNull(last.resultId());
        assertTrue(last.progress() < 1, "stopped before the last token: " + last);
        checkProgress(seen, 500);
        // nothing half-written: no stored result, and the same request still runs as a new job
        assertEquals(404, assertThrows(ApiException.class, () -> a.explorerResource().generated(MODEL, s.resultId())).status().getStatusCode());
        assertTrue(a.explorer().cached(a.explorer().generateQuery(MODEL, prompt, 500, 0.0, 0, 0L, false)).isEmpty());
        // a finished job cannot be cancelled again: 409
        assertEquals(409, assertThrows(ApiException.class, () -> a.jobResource().cancel(id)).status().getStatusCode());
        Response again = generate(a, prompt, 500, 0, 0, 0, false);
        assertEquals(202, again.getStatus());
        String second = ((PatchingResource.Started) again.getEntity()).job().id();
        assertNotNull(second);
        a.jobResource().cancel(second);
    }
}
