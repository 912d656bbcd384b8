package dev.loupe.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A crash while a job runs: the packaged app is killed with SIGKILL in the middle of a patching sweep, then started
 * again on the same data directory. The job must come back (queued again and running from the start, then
 * cancelled here to keep the test short) or be failed with a reason, never dropped, and the H2 result cache must still hold what was computed before the crash. Also: a
 * default model that cannot be loaded keeps {@code /q/health/ready} down with the reason.
 */
class RestartTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String MODEL = "restart-gpt2";
    private static final HttpClient HTTP = LoupeApp.HTTP;

    @Test
    @Timeout(value = 12, unit = TimeUnit.MINUTES)
    void aJobKilledWithTheProcessIsQueuedAgainAndTheCacheSurvives() throws Exception {
        Path work = Files.createTempDirectory("loupe-restart");
        Path data = Files.createDirectories(work.resolve("data"));
        Path models = Files.createDirectories(work.resolve("models"));
        // wide enough that a neuron sweep over a long prompt runs for minutes on a shared machine
        RandomModel.write(models.resolve(MODEL), MODEL, 3, 4, 128, 128, 7);

        LoupeApp first = LoupeApp.launch(work, data, models);
        String prompt = "/api/v1/models/" + MODEL + "/prompt?text=The%20cache%20outlives%20a%20crash";
        String key;
        String jobId;
        try {
            JsonNode computed = JSON.readTree(first.get(prompt).body());
            assertFalse(computed.get("cached").asBoolean(), computed.toString());
            key = computed.get("key").asText();
            assertTrue(JSON.readTree(first.get(prompt).body()).get("cached").asBoolean());

            String clean = "When Mary and John went to the store, John gave a drink to".repeat(4);
            String corrupt = "When Mary and John went to the store, Mary gave a drink to".repeat(4);
            var body = JSON.createObjectNode().put("clean", clean).put("corrupt", corrupt).put("sweep", "neurons:1").put("attribution", false);
            HttpResponse<String> started = send(first, "POST", "/api/v1/models/" + MODEL + "/patching?job=true", body.toString());
            assertEquals(202, started.statusCode(), started.body());
            jobId = JSON.readTree(started.body()).path("job").path("id").asText();

            JsonNode running = awaitJob(first, jobId, j -> "RUNNING".equals(j.get("state").asText()) && j.get("progress").asDouble() > 0, Duration.ofMinutes(3));
            assertTrue(running.get("progress").asDouble() < 1, "the sweep finished before it could be killed: " + running);
            Thread.sleep(1500); // H2 writes committed changes to the file within a second
            assertEquals(137, first.kill(), "exit status of a SIGKILLed JVM");
        } finally {
            first.stop();
        }

        LoupeApp second = LoupeApp.launch(work, data, models);
        try {
            JsonNode after = JSON.readTree(second.get("/api/v1/jobs/" + jobId).body());
            String state = after.get("state").asText();
            assertTrue(Set.of("QUEUED", "RUNNING", "DONE", "FAILED").contains(state), "job after the restart: " + after);
            if (state.equals("FAILED")) {
                assertFalse(after.path("error").asText().isBlank(), "a failed job names its reason: " + after);
            } else {
                if (state.equals("QUEUED")) assertEquals("queued again after a restart", after.get("message").asText(), after.toString());
                if (!state.equals("DONE")) {
                    // it runs again from the start: progress comes back, then cancel it rather than wait for the whole sweep
                    JsonNode again = awaitJob(second, jobId, j -> j.get("state").asText().equals("DONE")
                            || j.get("state").asText().equals("RUNNING") && j.get("progress").asDouble() > 0, Duration.ofMinutes(4));
                    assertEquals(2, again.get("attempts").asInt(), "started a second time: " + again);
                    if (again.get("state").asText().equals("RUNNING")) {
                        HttpResponse<String> cancel = send(second, "DELETE", "/api/v1/jobs/" + jobId, null);
                        assertEquals(200, cancel.statusCode(), cancel.body());
                        JsonNode cancelled = awaitJob(second, jobId, j -> !j.get("state").asText().equals("RUNNING"), Duration.ofMinutes(2));
                        assertTrue(Set.of("CANCELLED", "DONE").contains(cancelled.get("state").asText()), cancelled.toString());
                    }
                }
            }
            JsonNode cachedAgain = JSON.readTree(second.get(prompt).body());
            assertTrue(cachedAgain.get("cached").asBoolean(), "the cached result survived the crash: " + cachedAgain);
            assertEquals(key, cachedAgain.get("key").asText());
            JsonNode mine = JSON.readTree(second.get("/api/v1/jobs").body());
            assertTrue(mine.findValuesAsText("id").contains(jobId), "the job is still listed: " + mine);
        } finally {
            second.stop();
        }
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void readinessStaysDownWhileTheDefaultModelCannotBeLoaded() throws Exception {
        Path work = Files.createTempDirectory("loupe-unready");
        Path data = Files.createDirectories(work.resolve("data"));
        Path models = Files.createDirectories(work.resolve("models"));
        RandomModel.write(models.resolve(MODEL), MODEL, 1, 2, 16, 32, 3);
        Files.writeString(models.resolve(MODEL).resolve("model.safetensors"), "not a safetensors file");
        LoupeApp app = LoupeApp.launch(work, data, models, List.of(), "/q/health/live");
        try {
            HttpResponse<String> ready = app.get("/q/health/ready");
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!ready.body().contains("\"failed\"") && System.nanoTime() < end) { // loading
                assertEquals(503, ready.statusCode(), ready.body());
                Thread.sleep(250);
                ready = app.get("/q/health/ready");
            }
            assertEquals(503, ready.statusCode(), ready.body());
            JsonNode check = null;
            for (JsonNode c : JSON.readTree(ready.body()).get("checks")) if (c.get("name").asText().equals("default model")) check = c;
            assertTrue(check != null, ready.body());
            assertEquals("DOWN", check.get("status").asText());
            assertEquals(MODEL, check.get("data").get("model").asText());
            assertFalse(check.get("data").get("problem").asText().isBlank(), check.toString());
            assertEquals(200, app.get("/q/health/live").statusCode());
        } finally {
            app.stop();
        }
    }

    static HttpResponse<String> send(LoupeApp app, String method, String path, String json) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(app.url(path))).timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json")
                .method(method, json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode awaitJob(LoupeApp app, String id, java.util.function.Predicate<JsonNode> until, Duration timeout) throws Exception {
        long end = System.nanoTime() + timeout.toNanos();
        JsonNode j = JSON.readTree(app.get("/api/v1/jobs/" + id).body());
        while (!until.test(j)) {
            assertTrue(System.nanoTime() < end, "job did not get there in " + timeout + ": " + j + "\n" + app.log());
            Thread.sleep(200);
            j = JSON.readTree(app.get("/api/v1/jobs/" + id).body());
        }
        return j;
    }
}
