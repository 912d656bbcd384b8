package dev.loupe.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The compute scheduler's refusals over HTTP, against an app with one compute slot, no queue and one computation per
 * client: while a head-detector run holds the slot, the same client's next request is a 429 (its own limit) and
 * another client's a 503 (the server is full), both JSON {status, error, message} with a Retry-After in seconds.
 */
class BusyApiTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = LoupeApp.HTTP;
    private static LoupeApp busy;

    @BeforeAll
    static void start() throws Exception {
        Path work = Files.createTempDirectory("loupe-busy");
        busy = LoupeApp.launch(work, Files.createDirectories(work.resolve("data")), LoupeApp.get().modelsDir(), List.of(
                "-Dloupe.compute.concurrency=1", "-Dloupe.compute.queue=0", "-Dloupe.compute.per-client=1",
                "-Dquarkus.http.proxy.proxy-address-forwarding=true", "-Dquarkus.http.proxy.allow-x-forwarded=true"), "/q/health/ready");
    }

    @AfterAll
    static void stop() {
        if (busy != null) busy.stop();
    }

    private static HttpRequest get(String path, String client) {
        return HttpRequest.newBuilder(URI.create(busy.url(path))).timeout(Duration.ofSeconds(120)).header("X-Forwarded-For", client).GET().build();
    }

    private static double running() throws Exception {
        String m = HTTP.send(get("/q/metrics", "198.51.100.9"), HttpResponse.BodyHandlers.ofString()).body();
        for (String line : m.split("\n")) if (line.startsWith("loupe_scheduler_running ")) return Double.parseDouble(line.split(" ")[1]);
        return -1;
    }

    private static void assertRefused(HttpResponse<String> r, int status, String says) throws Exception {
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("application/json"), r.headers().toString());
        int retry = Integer.parseInt(r.headers().firstValue("Retry-After").orElseThrow(() -> new AssertionError("no Retry-After: " + r.headers())).trim());
        assertTrue(retry >= 1 && retry <= 60, "Retry-After " + retry);
        JsonNode e = JSON.readTree(r.body());
        assertEquals(status, e.get("status").asInt(), r.body());
        assertFalse(e.get("error").asText().isBlank(), r.body());
        assertTrue(e.get("message").asText().contains(says), r.body());
    }

    @Test
    void aClientOverItsLimitGets429AndAFullServerGets503() throws Exception {
        String m = "/api/v1/models/brown-6l";
        for (int attempt = 0; attempt < 5; attempt++) {
            // a cold detector burst (a new seed every attempt) holds the only slot for a while
            CompletableFuture<HttpResponse<String>> slow = HTTP.sendAsync(get(m + "/detectors?batch=16&length=127&seed=" + (7100 + attempt), "10.9.0.1"),
                    HttpResponse.BodyHandlers.ofString());
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (running() < 1 && !slow.isDone() && System.nanoTime() < deadline) Thread.sleep(10);
            if (slow.isDone()) continue; // finished before it was seen running: try a longer one
            HttpResponse<String> own = HTTP.send(get(m + "/prompt?text=busy%20one%20" + attempt, "10.9.0.1"), HttpResponse.BodyHandlers.ofString());
            HttpResponse<String> other = HTTP.send(get(m + "/prompt?text=busy%20two%20" + attempt, "10.9.0.2"), HttpResponse.BodyHandlers.ofString());
            boolean stillRunning = !slow.isDone();
            assertEquals(200, slow.get().statusCode(), slow.get().body());
            if (!stillRunning && (own.statusCode() == 200 || other.statusCode() == 200)) continue; // the slot came free in between
            assertRefused(own, 429, "per client");
            assertRefused(other, 503, "busy");
            // and once the slot is free, the same requests are answered
            assertEquals(200, HTTP.send(get(m + "/prompt?text=busy%20two%20" + attempt, "10.9.0.2"), HttpResponse.BodyHandlers.ofString()).statusCode());
            return;
        }
        fail("the detector run never held the slot long enough to be seen running");
    }
}
