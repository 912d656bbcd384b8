package dev.loupe.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Readiness and metrics of the packaged app, for a reverse proxy, an orchestrator and a Prometheus scraper. */
class ServingTest {
    private static final LoupeApp app = LoupeApp.get();
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void readinessNamesTheLoadedDefaultModel() throws Exception {
        HttpResponse<String> r = app.get("/q/health/ready");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode model = null;
        for (JsonNode c : JSON.readTree(r.body()).get("checks")) if (c.get("name").asText().equals("default model")) model = c;
        assertTrue(model != null, r.body());
        assertEquals("UP", model.get("status").asText());
        assertEquals("loaded", model.get("data").get("state").asText());
        assertEquals("brown-6l-v8", model.get("data").get("model").asText(), "the repository's default model");
    }

    @Test
    void metricsCountRequestsSchedulerJobsAndMemory() throws Exception {
        // a prompt no other test asks, so that it is computed (through the scheduler) and not read from the cache
        assertEquals(200, app.get("/api/v1/models/" + LoupeApp.MODEL + "/prompt?text=metrics%20please%20" + System.nanoTime()).statusCode());
        HttpResponse<String> r = app.get("/q/metrics");
        assertEquals(200, r.statusCode());
        String m = r.body();
        assertTrue(value(m, "http_server_requests_seconds_count\\{[^}]*uri=\"/api/v1/models/\\{model\\}/prompt\"[^}]*}") >= 1, "request latency by route");
        assertTrue(value(m, "loupe_scheduler_completed_total") >= 1, "the prompt went through the scheduler");
        assertTrue(value(m, "loupe_scheduler_memory_budget_bytes") > 0);
        assertTrue(value(m, "loupe_scheduler_concurrency") >= 1);
        assertTrue(value(m, "loupe_scheduler_queued") >= 0 && value(m, "loupe_scheduler_running") >= 0);
        assertTrue(value(m, "loupe_scheduler_memory_reserved_bytes") >= 0);
        for (String s : new String[]{"queued", "running", "done", "failed", "cancelled"})
            assertTrue(value(m, "loupe_jobs\\{state=\"" + s + "\"}") >= 0, "jobs " + s);
        double rss = value(m, "loupe_process_resident_memory_bytes");
        // the sum over the heap's pools: one pool alone (e.g. G1 Eden right after a collection) may be empty
        double heap = sum(m, "jvm_memory_used_bytes\\{area=\"heap\"[^}]*}");
        assertTrue(rss > 100e6 && rss < 64e9, "resident memory " + rss);
        assertTrue(heap > 0 && heap < rss, "heap " + heap + " is part of the resident memory " + rss);
    }

    /** The sum of every sample whose name and labels match {@code regex}. */
    private static double sum(String metrics, String regex) {
        Matcher mt = Pattern.compile("(?m)^" + regex + " (\\S+)$").matcher(metrics);
        double total = 0;
        boolean any = false;
        while (mt.find()) {
            total += Double.parseDouble(mt.group(1));
            any = true;
        }
        assertTrue(any, "no sample " + regex + " in /q/metrics");
        return total;
    }

    /** The first sample whose name and labels match {@code regex}. */
    private static double value(String metrics, String regex) {
        Matcher mt = Pattern.compile("(?m)^" + regex + " (\\S+)$").matcher(metrics);
        assertTrue(mt.find(), "no sample " + regex + " in /q/metrics");
        return Double.parseDouble(mt.group(1));
    }
}
