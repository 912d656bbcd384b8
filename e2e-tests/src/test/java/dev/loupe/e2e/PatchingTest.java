package dev.loupe.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.microsoft.playwright.options.BoundingBox;
import com.microsoft.playwright.Download;
import com.microsoft.playwright.Locator;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

import static com.microsoft.playwright.assertions.PlaywrightAssertions.assertThat;
import static dev.loupe.e2e.Explore.*;
import static org.junit.jupiter.api.Assertions.*;

/** The patching page in Chromium and its REST endpoint, the page's numbers checked against the API's. */
class PatchingTest extends BrowserTest {
    static final String CLEAN = "The cat sat on the mat", CORRUPT = "The dog sat on the mat";

    static HttpResponse<String> post(String model, String body) {
        try {
            return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(app.url("/api/v1/models/" + model.replace("?", "/patching?") + (model.contains("?") ? "" : "/patching"))))
                    .timeout(Duration.ofSeconds(120)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static JsonNode result(String model, String body) throws Exception {
        HttpResponse<String> r = post(model, body);
        assertEquals(200, r.statusCode(), r.body());
        return JSON.readTree(r.body());
    }

    static String body(String sweep, String extra) {
        return "{\"clean\":\"" + CLEAN + "\",\"corrupt\":\"" + CORRUPT + "\",\"metric\":\"logit_diff\",\"a\":\"·mat\",\"b\":\"·on\",\"sweep\":\"" + sweep + "\"" + extra + "}";
    }

    private void open(String model, String sweep, String extra) {
        page.navigate(app.url("/model/" + model + "/patching?clean=" + enc(CLEAN) + "&corrupt=" + enc(CORRUPT) + "&metric=logit_diff&a=" + enc("·mat")
                + "&b=" + enc("·on") + "&sweep=" + enc(sweep) + extra));
        assertThat(page.locator("#patching-summary")).isVisible(new com.microsoft.playwright.assertions.LocatorAssertions.IsVisibleOptions().setTimeout(120_000));
    }

    static List<Double> flat(JsonNode n) {
        List<Double> out = new ArrayList<>();
        if (n.isArray()) for (JsonNode x : n) out.addAll(flat(x));
        else out.add(n.asDouble());
        return out;
    }

    @Test
    void restAnswersAndReopensAResultAndRejectsBadInputNamingIt() throws Exception {
        JsonNode a = result(LoupeApp.MODEL, body("resid_pre", ""));
        JsonNode r = a.get("result");
        assertEquals(List.of(2, 7), List.of(r.get("shape").get(0).asInt(), r.get("shape").get(1).asInt()));
        // patching resid_pre at layer 0 of the only differing position restores the clean metric exactly
        assertEquals(r.get("cleanMetric").asDouble(), r.get("values").get(0).get(2).asDouble(), 1e-4);
        assertEquals(1.0, r.get("normalised").get(0).get(2).asDouble(), 1e-3);
        JsonNode again = get(app, "/api/v1/models/" + LoupeApp.MODEL + "/patching/" + a.get("key").asText());
        assertEquals(r, again.get("result"));

        record Bad(String body, String says) {}
        for (Bad b : List.of(
                new Bad("{\"clean\":\"The cat sat on the mat\",\"corrupt\":\"The dog sat\",\"sweep\":\"resid_pre\"}", "7 tokens and the corrupted prompt 4 tokens"),
                new Bad(body("resid_pre", ",\"position\":12"), "position 12"),
                new Bad("{\"clean\":\"The cat\",\"corrupt\":\"The dog\",\"metric\":\"logit_diff\",\"a\":\"·zzqqxx\",\"b\":\"·on\",\"sweep\":\"resid_pre\"}", "unknown token"),
                new Bad("{\"cleanTokens\":[50256,1],\"corruptTokens\":[50256,70000],\"sweep\":\"resid_pre\"}", "unknown token id 70000"),
                new Bad(body("head_zz", ""), "unknown sweep 'head_zz'"))) {
            HttpResponse<String> res = post(LoupeApp.MODEL, b.body());
            assertEquals(400, res.statusCode(), res.body());
            assertTrue(JSON.readTree(res.body()).get("message").asText().contains(b.says()), res.body());
        }
        assertEquals(404, app.get("/api/v1/models/" + LoupeApp.MODEL + "/patching/" + "0".repeat(64)).statusCode());

        // a sweep run as a job: 202, the job reaches DONE with the announced result id, and that result reopens
        HttpResponse<String> started = post(LoupeApp.MODEL + "?job=true", body("head_v_by_pos", ",\"direction\":\"noise\""));
        assertEquals(202, started.statusCode(), started.body());
        JsonNode s = JSON.readTree(started.body());
        String jobId = s.get("job").get("id").asText(), resultId = s.get("resultId").asText();
        JsonNode job = null;
        for (int i = 0; i < 240; i++) {
            job = get(app, "/api/v1/jobs/" + jobId);
            if (job.get("state").asText().matches("DONE|FAILED|CANCELLED")) break;
            Thread.sleep(500);
        }
        assertEquals("DONE", job.get("state").asText(), job.toString());
        assertEquals(resultId, job.get("resultId").asText());
        JsonNode viaJob = get(app, s.get("result").asText()).get("result");
        assertEquals(result(LoupeApp.MODEL, body("head_v_by_pos", ",\"direction\":\"noise\"")).get("result"), viaJob);
    }

    @Test
    void headSweepPageShowsTheApisNumbersAndExportsThem() throws Exception {
        JsonNode r = result(LoupeApp.MODEL, body("head_out_by_pos", "")).get("result");
        open(LoupeApp.MODEL, "head_out_by_pos", "");
        assertThat(page.locator("#patching-tokens .token-diff")).hasCount(2);
        assertThat(page.locator("#patching-tokens .token-diff").first()).hasText("·cat");
        assertThat(page.locator("#patching-summary")).containsText(String.format(java.util.Locale.ROOT, "clean %.4f", r.get("cleanMetric").asDouble()));
        assertThat(page.locator("#patching-heatmap")).hasAttribute("data-rendered", Pattern.compile("\\d+"));
        assertThat(page.locator("#patching-attribution")).hasAttribute("data-rendered", Pattern.compile("\\d+"));
        assertThat(page.locator("#patching-correlation")).containsText(String.format(java.util.Locale.ROOT, "%.3f", r.get("attributionCorrelation").asDouble()));
        List<String> rows = page.locator("#patching-heatmap svg text").allTextContents();
        assertTrue(rows.contains("L1 H3") && rows.contains("2 ·cat"), rows.toString());
        screenshot("patching-heads");

        // the CSV holds the same numbers as the API, in its row-major order
        Download csv = page.waitForDownload(() -> page.locator("#export-csv").click());
        List<String> lines = Files.readAllLines(csv.path());
        assertEquals("layer,pos,head,raw,normalised,attribution", lines.get(0));
        List<Double> raw = flat(r.get("values")), attr = flat(r.get("attribution"));
        assertEquals(raw.size() + 1, lines.size());
        for (int i = 0; i < raw.size(); i++) {
            String[] f = lines.get(i + 1).split(",");
            assertEquals(raw.get(i), Double.parseDouble(f[3]), 1e-5, lines.get(i + 1));
            assertEquals(attr.get(i), Double.parseDouble(f[5]), 1e-5, lines.get(i + 1));
        }
        Download png = page.waitForDownload(() -> page.locator("#export-png").click());
        byte[] bytes = Files.readAllBytes(png.path());
        assertTrue(bytes.length > 1000 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G', "a PNG file");
        assertEquals("/api/v1/models/" + LoupeApp.MODEL + "/patching/" + page.locator("#patching-summary").getAttribute("data-key"),
                page.locator("#export-json").getAttribute("href"));
    }

    @Test
    void clickingAHeadOpensItInTheAttentionView() {
        open(LoupeApp.MODEL, "head_out", "");
        Locator map = page.locator("#patching-heatmap");
        assertThat(map).hasAttribute("data-rendered", Pattern.compile("\\d+"));
        BoundingBox b = map.boundingBox();
        // grid: 50 px left, 20 right, 36 top, 50 bottom; 2 layers × 4 heads; cell (head 2, layer 1)
        double x = b.x + 50 + (b.width - 70) * 2.5 / 4, y = b.y + 36 + (b.height - 86) * 1.5 / 2;
        page.mouse().click(x, y);
        page.waitForURL(Pattern.compile(".*/attention\\?.*"));
        assertTrue(page.url().contains("layer=1") && page.url().contains("head=2"), page.url());
        assertThat(page.locator("#prompt textarea")).hasValue(CLEAN,
                new com.microsoft.playwright.assertions.LocatorAssertions.HasValueOptions().setTimeout(60_000));
    }

    @Test
    void neuronSweepShowsTheTopNeuronsLinkedToTheirPages() throws Exception {
        JsonNode r = result(LoupeApp.MODEL, body("neurons:1:-1", ",\"direction\":\"noise\"")).get("result");
        List<Double> norm = flat(r.get("normalised"));
        int best = 0;
        for (int i = 1; i < norm.size(); i++) if (Math.abs(norm.get(i)) > Math.abs(norm.get(best))) best = i;
        open(LoupeApp.MODEL, "neurons:1:-1", "&dir=noise");
        assertThat(page.locator("#patching-neurons")).hasAttribute("data-rendered", Pattern.compile("\\d+"));
        Locator first = page.locator("#patching-neuron-links a").first();
        assertThat(first).hasText("N" + best);
        assertThat(first).hasAttribute("href", "/model/" + LoupeApp.MODEL + "/neurons/1/" + best);
        assertThat(page.locator("#patching-neuron-links a")).hasCount(20);
        assertTrue(page.locator("#patching-neurons svg text").allTextContents().contains("N" + best));
    }

    @Test
    void promptsOfDifferentLengthsAreRefusedBesideTheFields() {
        page.navigate(app.url("/model/" + LoupeApp.MODEL + "/patching?clean=" + enc(CLEAN) + "&corrupt=" + enc("The dog") + "&sweep=resid_pre"));
        assertThat(page.locator("#error")).containsText("7 tokens and the corrupted prompt 3 tokens",
                new com.microsoft.playwright.assertions.LocatorAssertions.ContainsTextOptions().setTimeout(60_000));
        assertThat(page.locator("#clean")).hasAttribute("invalid", "");
        assertThat(page.locator("#patching-summary")).hasCount(0);
    }

    @Test
    void onInductionModelPatchingFindsThePreviousTokenHead() throws Exception {
        // BOS + ten tokens twice, the second copy cut before its last token (61). Corrupting the token before 61 in the
        // first copy breaks the induction circuit; denoising head 0.2 at 61's first position (where it copies "the
        // previous token was 120") restores almost all of it.
        String clean = "[0,12,40,77,150,9,201,33,88,120,61,12,40,77,150,9,201,33,88,120]";
        String corrupt = "[0,12,40,77,150,9,201,33,88,230,61,12,40,77,150,9,201,33,88,120]";
        String q = "{\"cleanTokens\":" + clean + ",\"corruptTokens\":" + corrupt + ",\"metric\":\"logit_diff\",\"a\":\"#61\",\"b\":\"#230\",\"sweep\":\"head_out\"}";
        JsonNode r = result("induction-2l", q).get("result");
        JsonNode norm = r.get("normalised");
        assertTrue(norm.get(0).get(2).asDouble() > 0.9, norm.toString());
        for (int h : new int[]{0, 1, 3}) assertTrue(Math.abs(norm.get(0).get(h).asDouble()) < 0.1, norm.toString());
        assertTrue(r.get("attributionCorrelation").asDouble() > 0.9, r.toString());
    }
}
