package dev.loupe.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.microsoft.playwright.Locator;
import com.microsoft.playwright.assertions.LocatorAssertions;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.regex.Pattern;

import static com.microsoft.playwright.assertions.PlaywrightAssertions.assertThat;
import static dev.loupe.e2e.Explore.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Generation as a job, over HTTP and in Chromium: {@code POST /generate?job=true} answers 202 with the job and the
 * result's address, the job's progress counts tokens, its result is the synchronous answer; the Generate view runs a
 * long continuation as a job with a live progress bar, draws the result when it is done, and a Cancel stops it.
 */
class GenerateJobTest extends BrowserTest {
    /** brown-6l: a context of 256 tokens, so a continuation of 250 takes long enough to watch. */
    static final String LONG_MODEL = "brown-6l";
    static final LocatorAssertions.HasAttributeOptions LONG = new LocatorAssertions.HasAttributeOptions().setTimeout(120_000);

    static HttpResponse<String> send(HttpRequest.Builder b) {
        try {
            return LoupeApp.HTTP.send(b.timeout(Duration.ofSeconds(120)).build(), HttpResponse.BodyHandlers.ofString());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static HttpResponse<String> post(String model, String query, String body) {
        return send(HttpRequest.newBuilder(URI.create(app.url("/api/v1/models/" + model + "/generate" + query)))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    static void cancel(String job) {
        send(HttpRequest.newBuilder(URI.create(app.url("/api/v1/jobs/" + job))).DELETE());
    }

    static JsonNode await(String job) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(150).toNanos();
        JsonNode j = get(app, "/api/v1/jobs/" + job);
        while (!j.get("state").asText().matches("DONE|FAILED|CANCELLED") && System.nanoTime() < end) {
            Thread.sleep(50);
            j = get(app, "/api/v1/jobs/" + job);
        }
        return j;
    }

    private double barValue(Locator progress) {
        return ((Number) progress.locator("vaadin-progress-bar").evaluate("b => b.value")).doubleValue();
    }

    @Test
    void aGenerationAskedAsAJobAnswers202AndItsResultIsTheSynchronousAnswer() throws Exception {
        String body = "{\"text\":\"The cat sat on the\",\"maxNew\":100,\"temperature\":1.0,\"topK\":50,\"seed\":21,\"stopAtEos\":false}";
        HttpResponse<String> started = post(LoupeApp.MODEL, "?job=true", body);
        assertEquals(202, started.statusCode(), started.body());
        JsonNode s = JSON.readTree(started.body());
        String job = s.get("job").get("id").asText(), id = s.get("resultId").asText();
        assertEquals("/api/v1/jobs/" + job, started.headers().firstValue("Location").orElse(""));
        assertEquals(id, started.headers().firstValue("X-Loupe-Result").orElse(""));
        assertEquals("/api/v1/models/" + LoupeApp.MODEL + "/generate/" + id, s.get("result").asText());
        assertEquals("generate", s.get("job").get("kind").asText());
        JsonNode done = await(job);
        assertEquals("DONE", done.get("state").asText(), done.toString());
        assertEquals(id, done.get("resultId").asText());
        assertEquals(1.0, done.get("progress").asDouble());
        JsonNode result = get(app, s.get("result").asText());
        assertEquals(100, result.get("result").get("steps").size());
        // the same request as a GET: answered at once now (the stored result, same id)
        HttpResponse<String> sync = app.get(api("generate", "text=" + enc("The cat sat on the") + "&maxNew=100&temperature=1.0&topK=50&seed=21&stopAtEos=false"));
        assertEquals(200, sync.statusCode(), sync.body());
        assertEquals(id, JSON.readTree(sync.body()).get("key").asText());
        assertEquals(result.get("result"), JSON.readTree(sync.body()).get("result"));
        // a short request is answered synchronously
        HttpResponse<String> shortOne = post(LoupeApp.MODEL, "", "{\"text\":\"The cat sat on the\",\"maxNew\":12,\"seed\":3,\"temperature\":0.8}");
        assertEquals(200, shortOne.statusCode(), shortOne.body());
        // an unknown result is a 404 JSON error; a bad request a 400 before any job starts
        HttpResponse<String> missing = app.get("/api/v1/models/" + LoupeApp.MODEL + "/generate/" + "0".repeat(64));
        assertEquals(404, missing.statusCode());
        assertTrue(JSON.readTree(missing.body()).get("message").asText().contains("no stored generation"), missing.body());
        assertEquals(400, post(LoupeApp.MODEL, "?job=true", "{\"text\":\"The cat\",\"maxNew\":0}").statusCode());
    }

    @Test
    void aCancelledJobOverRestStopsAndStoresNothing() throws Exception {
        HttpResponse<String> started = post(LONG_MODEL, "?job=true", "{\"text\":\"It was a dark night\",\"maxNew\":240,\"stopAtEos\":false,\"seed\":5,\"temperature\":1.0}");
        assertEquals(202, started.statusCode(), started.body());
        JsonNode s = JSON.readTree(started.body());
        String job = s.get("job").get("id").asText();
        try {
            long end = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            JsonNode j = get(app, "/api/v1/jobs/" + job);
            while (j.get("progress").asDouble() == 0 && !j.get("state").asText().matches("DONE|FAILED|CANCELLED") && System.nanoTime() < end) {
                Thread.sleep(20);
                j = get(app, "/api/v1/jobs/" + job);
            }
            assertEquals("RUNNING", j.get("state").asText(), j.toString());
            assertTrue(j.get("message").asText().matches("\\d+ of 240 tokens"), j.toString());
            HttpResponse<String> c = send(HttpRequest.newBuilder(URI.create(app.url("/api/v1/jobs/" + job))).DELETE());
            assertEquals(200, c.statusCode(), c.body());
            JsonNode last = await(job);
            assertEquals("CANCELLED", last.get("state").asText(), last.toString());
            assertTrue(last.get("resultId").isNull(), last.toString());
            assertTrue(last.get("progress").asDouble() < 1, last.toString());
            assertEquals(404, app.get(s.get("result").asText()).statusCode());
        } finally {
            cancel(job);
        }
    }

    @Test
    void theGenerateViewRunsALongContinuationAsAJobWithLiveProgress() throws Exception {
        String q = "text=" + enc("The old man said") + "&maxNew=250&stopAtEos=false";
        page.navigate(app.url("/model/" + LONG_MODEL + "/generate?" + q));
        Locator progress = page.locator("#generate-progress");
        assertThat(progress).hasAttribute("data-job", Pattern.compile(".+"), LONG);
        String job = progress.getAttribute("data-job");
        try {
            page.waitForURL(Pattern.compile(".*job=" + Pattern.quote(job) + ".*"));
            assertThat(progress).hasAttribute("data-state", "running", LONG);
            assertThat(progress.locator(".job-status")).containsText(Pattern.compile("\\d+% · \\d+ of 250 tokens"));
            assertThat(progress.locator(".job-cancel")).isVisible();
            double first = barValue(progress);
            page.waitForCondition(() -> barValue(progress) > first, new com.microsoft.playwright.Page.WaitForConditionOptions().setTimeout(60_000));
            screenshot("generate-job-progress");
            assertThat(page.locator("#generated-text")).hasCount(0);

            // done: the bar goes, the URL drops the job, and the tokens are the API's for the same request
            Locator tokens = page.locator("#generated-text .gen-token");
            assertThat(tokens).hasCount(250, new com.microsoft.playwright.assertions.LocatorAssertions.HasCountOptions().setTimeout(180_000));
            assertThat(progress).hasCount(0);
            page.waitForCondition(() -> !page.url().contains("job="));
            assertEquals("DONE", get(app, "/api/v1/jobs/" + job).get("state").asText());
            JsonNode r = get(app, "/api/v1/models/" + LONG_MODEL + "/generate?" + q).get("result");
            for (int i : new int[]{0, 1, 100, 249})
                assertThat(tokens.nth(i)).hasAttribute("data-id", r.get("steps").get(i).get("token").get("id").asText());
            assertThat(page.locator("#generate-summary")).containsText("250 new tokens, greedy");
            assertThat(page.locator("#generate-summary")).not().containsText("from the cache");
            screenshot("generate-job-done");

            // opened again, the stored result is drawn at once, without a job
            page.navigate(app.url("/model/" + LONG_MODEL + "/generate?" + q));
            assertThat(tokens).hasCount(250);
            assertThat(page.locator("#generate-summary")).containsText("from the cache");
            assertThat(progress).hasCount(0);
        } finally {
            cancel(job);
        }
    }

    @Test
    void cancellingTheViewsGenerationStopsItAndKeepsNothing() throws Exception {
        String q = "text=" + enc("The old woman said") + "&maxNew=250&stopAtEos=false&temperature=1.0&seed=9";
        page.navigate(app.url("/model/" + LONG_MODEL + "/generate?" + q));
        Locator progress = page.locator("#generate-progress");
        assertThat(progress).hasAttribute("data-state", "running", LONG);
        String job = progress.getAttribute("data-job");
        try {
            assertThat(progress.locator(".job-status")).containsText(" of 250 tokens");
            progress.locator(".job-cancel").click();
            assertThat(progress).hasAttribute("data-state", "cancelled", LONG);
            assertThat(page.locator("#error")).containsText(Pattern.compile("Cancelled after \\d+ of 250 tokens: nothing was kept"));
            assertThat(progress.locator(".job-status")).containsText(Pattern.compile("cancelled at \\d+%"));
            assertThat(page.locator("#generated-text")).hasCount(0);
            screenshot("generate-job-cancelled");
            JsonNode j = get(app, "/api/v1/jobs/" + job);
            assertEquals("CANCELLED", j.get("state").asText(), j.toString());
            assertTrue(j.get("resultId").isNull());
            assertTrue(j.get("progress").asDouble() < 1, j.toString());
            page.waitForCondition(() -> !page.url().contains("job="));

            // Run again starts a new job for the same request
            page.locator("#run").click();
            assertThat(progress).hasAttribute("data-state", "running", LONG);
            assertThat(progress).not().hasAttribute("data-job", job);
            String again = progress.getAttribute("data-job");
            cancel(again);
            assertThat(progress).hasAttribute("data-state", "cancelled", LONG);
        } finally {
            cancel(job);
        }
    }
}
