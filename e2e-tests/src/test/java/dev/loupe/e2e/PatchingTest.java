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
            return LoupeApp.HTTP.send(HttpRequest.newBuilder(URI.create(app.url("/api/v1/models/" + model.replace("?", "/patching?") + (model.contains("?") ? "" : "/patching"))))
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
                new Bad(body("head_zz", ""), "unknown sweep 'head_zz'"),
                new Bad(body("path:q:1.9", ""), "receiver head 1.9"),
                new Bad("{\"task\":\"agreement\",\"pairs\":256,\"sweep\":\"neurons:0\"}", "over the limit of 200000"),
                new Bad("{\"task\":\"agreement\",\"clean\":\"The cat\",\"sweep\":\"resid_pre\"}", "not both"))) {
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
        List<String> rows = chartTexts("#patching-heatmap");
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
        assertTrue(chartTexts("#patching-neurons").contains("N" + best));
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

    // ------------------------------------------------------------------ every sweep in the browser, checked against REST

    /** A sweep run from the page and its numbers checked against the API's answer for the same request. */
    record Case(String sweep, String dir) {}

    static String pageQuery(String sweep, String dir) {
        return "clean=" + enc(CLEAN) + "&corrupt=" + enc(CORRUPT) + "&metric=logit_diff&a=" + enc("·mat") + "&b=" + enc("·on")
                + "&sweep=" + enc(sweep) + "&dir=" + dir;
    }

    /**
     * Opens the page for a request (it runs as a job and the URL then names the result), fetches the API's answer for
     * the same request, and checks the page against it: the summary's metrics, every heatmap drawn, the correlation,
     * and the downloaded CSV cell by cell (raw, normalised, attribution).
     */
    private JsonNode checkAgainstApi(String model, String query, String body) throws Exception {
        // the first page of a fresh app on a loaded machine can take longer than the default 30 s to load
        page.navigate(app.url("/model/" + model + "/patching?" + query), new com.microsoft.playwright.Page.NavigateOptions().setTimeout(120_000));
        assertThat(page.locator("#patching-summary")).isVisible(new com.microsoft.playwright.assertions.LocatorAssertions.IsVisibleOptions().setTimeout(120_000));
        String key = page.locator("#patching-summary").getAttribute("data-key");
        page.waitForURL(Pattern.compile(".*[?&]id=" + key + ".*"));
        assertFalse(page.url().contains("job="), page.url());
        HttpResponse<String> res = post(model, body);
        assertEquals(200, res.statusCode(), res.body());
        JsonNode a = JSON.readTree(res.body());
        assertEquals(key, a.get("key").asText(), "the page and the API name the same result");
        JsonNode r = a.get("result");
        String label = r.get("sweep").asText() + " " + r.get("direction").asText();
        assertThat(page.locator("#patching-summary")).containsText(String.format(java.util.Locale.ROOT, "clean %s, corrupted %s",
                fmt(r.get("cleanMetric").asDouble()), fmt(r.get("corruptMetric").asDouble())));
        boolean neurons = r.get("axes").get(r.get("axes").size() - 1).asText().equals("neuron");
        if (neurons) assertThat(page.locator("#patching-neurons")).hasAttribute("data-rendered", Pattern.compile("\\d+"));
        else {
            int maps = r.get("components").isNull() ? 1 : r.get("components").size();
            assertThat(page.locator("[id^=patching-heatmap][data-rendered]")).hasCount(maps);
            if (r.get("components").isArray())
                for (JsonNode c : r.get("components")) assertThat(page.locator("#patching-heatmap-" + c.asText())).hasAttribute("data-rendered", Pattern.compile("\\d+"));
        }
        if (r.get("attribution").isNull()) assertThat(page.locator("#patching-scatter")).hasCount(0);
        else {
            assertThat(page.locator("#patching-scatter")).hasAttribute("data-rendered", Pattern.compile("\\d+"));
            if (!r.get("attributionCorrelation").isNull())
                assertThat(page.locator("#patching-correlation")).containsText(String.format(java.util.Locale.ROOT, "%.3f", r.get("attributionCorrelation").asDouble()));
        }
        Download csv = page.waitForDownload(() -> page.locator("#export-csv").click());
        List<String> lines = Files.readAllLines(csv.path());
        List<Double> raw = flat(r.get("values")), norm = flat(r.get("normalised")), attr = r.get("attribution").isNull() ? null : flat(r.get("attribution"));
        assertEquals(raw.size() + 1, lines.size(), label);
        int cols = r.get("axes").size();
        for (int i = 0; i < raw.size(); i++) {
            String[] f = lines.get(i + 1).split(",");
            assertEquals(raw.get(i), Double.parseDouble(f[cols]), 1e-5, label + " " + lines.get(i + 1));
            assertEquals(norm.get(i), Double.parseDouble(f[cols + 1]), 1e-5, label + " " + lines.get(i + 1));
            if (attr != null) assertEquals(attr.get(i), Double.parseDouble(f[cols + 2]), 1e-5, label + " " + lines.get(i + 1));
        }
        return r;
    }

    static String fmt(double v) {
        return String.format(java.util.Locale.ROOT, Math.abs(v) >= 100 ? "%.1f" : Math.abs(v) >= 0.01 || v == 0 ? "%.4f" : "%.3g", v);
    }

    private void checkSweeps(List<Case> cases) throws Exception {
        for (Case c : cases) {
            JsonNode r = checkAgainstApi(LoupeApp.MODEL, pageQuery(c.sweep(), c.dir()), body(c.sweep(), ",\"direction\":\"" + c.dir() + "\""));
            assertEquals(c.dir(), r.get("direction").asText());
        }
    }

    @Test
    void residualAndBlockOutputSweepsInEveryDirectionAndAblation() throws Exception {
        checkSweeps(List.of(new Case("resid_pre", "denoise"), new Case("resid_mid", "noise"), new Case("resid_post", "zero"),
                new Case("attn_out", "mean"), new Case("mlp_out", "resample"), new Case("mlp_out", "noise"), new Case("every_block", "denoise")));
        // the panel is its three sweeps stacked
        JsonNode panel = result(LoupeApp.MODEL, body("every_block", "")).get("result");
        assertEquals(result(LoupeApp.MODEL, body("attn_out", "")).get("result").get("values"), panel.get("values").get(1));
        screenshot("patching-every-block");
    }

    @Test
    void headSweepsAllPositionsAndByPositionAndTheEveryHeadPanels() throws Exception {
        checkSweeps(List.of(new Case("head_out", "noise"), new Case("head_q", "denoise"), new Case("head_k", "zero"), new Case("head_v", "mean"),
                new Case("head_pattern", "resample"), new Case("head_q_by_pos", "noise"), new Case("head_k_by_pos", "denoise"),
                new Case("head_v_by_pos", "zero"), new Case("head_pattern_by_pos", "denoise"), new Case("every_head", "noise"),
                new Case("every_head_by_pos", "denoise")));
        JsonNode panel = result(LoupeApp.MODEL, body("every_head", ",\"direction\":\"noise\"")).get("result");
        assertEquals(List.of(5, 2, 4), List.of(panel.get("shape").get(0).asInt(), panel.get("shape").get(1).asInt(), panel.get("shape").get(2).asInt()));
        assertEquals(result(LoupeApp.MODEL, body("head_pattern", ",\"direction\":\"noise\"")).get("result").get("values"), panel.get("values").get(4));
        screenshot("patching-every-head");
    }

    @Test
    void neuronSweepsAtAPositionAndOverAllPositionsAndPathPatching() throws Exception {
        checkSweeps(List.of(new Case("neurons:0:-1", "denoise"), new Case("neurons:1", "noise"), new Case("neurons:0", "zero"),
                new Case("path:logits", "denoise"), new Case("path:q:1.0,1.3", "noise"), new Case("path:v:1.2", "denoise")));
        // neurons over all positions: the bars are the top neurons by |normalised| over (position, neuron), each linked to its page
        JsonNode r = result(LoupeApp.MODEL, body("neurons:1", ",\"direction\":\"noise\"")).get("result");
        List<Double> norm = flat(r.get("normalised"));
        int best = 0;
        for (int i = 1; i < norm.size(); i++) if (Math.abs(norm.get(i)) > Math.abs(norm.get(best))) best = i;
        open(LoupeApp.MODEL, "neurons:1", "&dir=noise");
        Locator first = page.locator("#patching-neuron-links a").first();
        assertThat(first).hasAttribute("href", "/model/" + LoupeApp.MODEL + "/neurons/1/" + best % 256);
        assertThat(first).hasText(Pattern.compile("pos " + best / 256 + " .* N" + best % 256));
        // the path sweep's receivers field holds its heads, and a bad receiver is refused beside it
        page.navigate(app.url("/model/" + LoupeApp.MODEL + "/patching?" + pageQuery("path:q:1.9", "denoise")));
        assertThat(page.locator("#error")).containsText("receiver head 1.9");
        assertThat(page.locator("#receivers")).hasAttribute("invalid", "");
        assertThat(page.locator("#receivers input")).hasValue("1.9");
    }

    @Test
    void onInductionModelPathPatchingFindsThePreviousTokenHeadFeedingTheInductionHeadsKeys() throws Exception {
        String clean = "[0,12,40,77,150,9,201,33,88,120,61,12,40,77,150,9,201,33,88,120]";
        String corrupt = "[0,12,40,77,150,9,201,33,88,230,61,12,40,77,150,9,201,33,88,120]";
        String q = "{\"cleanTokens\":" + clean + ",\"corruptTokens\":" + corrupt + ",\"metric\":\"logit_diff\",\"a\":\"#61\",\"b\":\"#230\",\"sweep\":\"path:k:1.0,1.1,1.2,1.3\"}";
        JsonNode r = result("induction-2l", q).get("result");
        JsonNode norm = r.get("normalised");
        for (int h : new int[]{0, 1, 3}) assertTrue(norm.get(0).get(2).asDouble() > Math.abs(norm.get(0).get(h).asDouble()) + 0.2, norm.toString());
        for (int h = 0; h < 4; h++) assertEquals(0.0, norm.get(1).get(h).asDouble(), 1e-6, "layer-1 senders have no path to layer-1 keys");
        // the page: the same sweep from the words of the model's vocabulary (t12 is token 12; <bos> is prepended)
        String words = java.util.Arrays.stream(clean.replaceAll("[\\[\\]]", "").split(",")).skip(1).map(t -> "t" + t).collect(java.util.stream.Collectors.joining(" "));
        String bad = words.replace("t120 t61", "t230 t61");
        page.navigate(app.url("/model/induction-2l/patching?clean=" + enc(words) + "&corrupt=" + enc(bad) + "&a=t61&b=t230&sweep=" + enc("path:k:1.0,1.1,1.2,1.3")),
                new com.microsoft.playwright.Page.NavigateOptions().setTimeout(120_000));
        assertThat(page.locator("#patching-summary")).containsText(String.format(java.util.Locale.ROOT, "clean %s", fmt(r.get("cleanMetric").asDouble())),
                new com.microsoft.playwright.assertions.LocatorAssertions.ContainsTextOptions().setTimeout(120_000));
        assertThat(page.locator("#receivers input")).hasValue("1.0,1.1,1.2,1.3");
        assertThat(page.locator("#patching-heatmap")).hasAttribute("data-rendered", Pattern.compile("\\d+"));
        screenshot("patching-path-induction");
    }

    // ------------------------------------------------------------------ every metric, the mean over a text, an attention-only panel

    static String metricQuery(String metric, String sweep, String dir) {
        return "clean=" + enc(CLEAN) + "&corrupt=" + enc(CORRUPT) + "&metric=" + metric + (metric.equals("kl") || metric.equals("loss") ? "" : "&a=" + enc("·mat"))
                + (metric.equals("logit_diff") ? "&b=" + enc("·on") : "") + "&sweep=" + enc(sweep) + "&dir=" + dir;
    }

    static String metricBody(String metric, String sweep, String dir) {
        return "{\"clean\":\"" + CLEAN + "\",\"corrupt\":\"" + CORRUPT + "\",\"metric\":\"" + metric + "\""
                + (metric.equals("kl") || metric.equals("loss") ? "" : ",\"a\":\"·mat\"") + (metric.equals("logit_diff") ? ",\"b\":\"·on\"" : "")
                + ",\"sweep\":\"" + sweep + "\",\"direction\":\"" + dir + "\"}";
    }

    @Test
    void everyMetricShowsTheApisRawAndNormalisedValues() throws Exception {
        record M(String metric, String sweep, String dir, String named) {}
        for (M m : List.of(new M("prob", "head_out", "denoise", "p(·mat) at position -1"), new M("logprob", "head_v", "noise", "log p(·mat) at position -1"),
                new M("kl", "head_k", "denoise", "KL(clean ‖ patched) at position -1"), new M("loss", "head_q", "noise", "loss —"))) {
            JsonNode r = checkAgainstApi(LoupeApp.MODEL, metricQuery(m.metric(), m.sweep(), m.dir()), metricBody(m.metric(), m.sweep(), m.dir()));
            assertTrue(r.get("metric").asText().startsWith(m.metric()), r.get("metric").asText());
            assertThat(page.locator("#patching-summary")).containsText(m.named());
            // hovering cell (layer 1, head 2) shows its raw and normalised values as the API gives them
            List<Double> raw = flat(r.get("values")), norm = flat(r.get("normalised"));
            Locator map = page.locator("#patching-heatmap");
            BoundingBox box = map.boundingBox();
            page.mouse().move(box.x + 50 + (box.width - 70) * 2.5 / 4, box.y + 36 + (box.height - 86) * 1.5 / 2);
            assertThat(map.getByText("raw " + fmt(raw.get(6))).first()).isVisible();
            assertThat(map).containsText("normalised " + fmt(norm.get(6)));
            // normalised is (raw - corrupted) / (clean - corrupted); the base run is the corrupted one when denoising
            double c = r.get("cleanMetric").asDouble(), k = r.get("corruptMetric").asDouble();
            if (Math.abs(c - k) > 1e-6) assertEquals((raw.get(6) - k) / (c - k), norm.get(6), 1e-4);
            if (m.metric().equals("kl")) assertEquals(0.0, c, 1e-6, "KL of the clean run to itself");
        }
    }

    static final String MEAN_TEXT = "A mat is on the floor of the old house, and the cat likes it.";

    @Test
    void theMeanAblationOverATextFromTheFieldMatchesTheApi() throws Exception {
        String body = body("resid_pre", ",\"direction\":\"mean\",\"meanText\":\"" + MEAN_TEXT + "\"");
        JsonNode r = checkAgainstApi(LoupeApp.MODEL, pageQuery("resid_pre", "mean") + "&mean=" + enc(MEAN_TEXT), body);
        int n = r.get("meanTextTokens").asInt();
        assertTrue(n > 7, r.toString());
        assertThat(page.locator("#patching-summary")).containsText("mean over a text of " + n + " tokens");
        assertThat(page.locator("#mean-text input")).hasValue(MEAN_TEXT);
        // another mean than the one over the clean prompt
        JsonNode overPrompt = result(LoupeApp.MODEL, body("resid_pre", ",\"direction\":\"mean\"")).get("result");
        assertNotEquals(overPrompt.get("values"), r.get("values"));
        // typed into the field (shown only for the mean ablation), then run: the same result
        page.navigate(app.url("/model/" + LoupeApp.MODEL + "/patching?" + pageQuery("head_out", "denoise")));
        assertThat(page.locator("#patching-summary")).isVisible(new com.microsoft.playwright.assertions.LocatorAssertions.IsVisibleOptions().setTimeout(120_000));
        assertThat(page.locator("#mean-text")).isHidden();
        page.locator("#direction").click();
        page.locator("vaadin-select-item", new com.microsoft.playwright.Page.LocatorOptions().setHasText("mean")).click();
        assertThat(page.locator("#mean-text")).isVisible();
        page.locator("#mean-text input").fill(MEAN_TEXT);
        page.locator("#run").click();
        assertThat(page.locator("#patching-summary")).containsText("mean over a text of " + n + " tokens",
                new com.microsoft.playwright.assertions.LocatorAssertions.ContainsTextOptions().setTimeout(120_000));
        JsonNode h = JSON.readTree(post(LoupeApp.MODEL, body("head_out", ",\"direction\":\"mean\",\"meanText\":\"" + MEAN_TEXT + "\"")).body());
        page.waitForURL(Pattern.compile(".*[?&]id=" + h.get("key").asText() + ".*"));
        // the result's link reopens it (after a Run from the field the page has once shown the finished bar without
        // the result until reloaded: the reopened link is what is checked and shown)
        page.navigate(page.url());
        assertThat(page.locator("#patching-summary")).containsText("mean over a text of " + n + " tokens",
                new com.microsoft.playwright.assertions.LocatorAssertions.ContainsTextOptions().setTimeout(60_000));
        assertThat(page.locator("#patching-heatmap")).hasAttribute("data-rendered", Pattern.compile("\\d+"));
        screenshot("patching-mean-text");

        // too long a text, or a pattern sweep: refused beside the field; REST names the problem too
        page.navigate(app.url("/model/" + LoupeApp.MODEL + "/patching?" + pageQuery("resid_pre", "mean") + "&mean=" + enc("word ".repeat(200))));
        assertThat(page.locator("#error")).containsText("the mean text is 202 tokens long", new com.microsoft.playwright.assertions.LocatorAssertions.ContainsTextOptions().setTimeout(60_000));
        assertThat(page.locator("#mean-text")).hasAttribute("invalid", "");
        assertThat(page.locator("#patching-progress")).hasCount(0);
        record Bad(String body, String says) {}
        for (Bad b : List.of(new Bad(body("resid_pre", ",\"direction\":\"mean\",\"meanText\":\"\""), "the mean text is empty"),
                new Bad(body("resid_pre", ",\"direction\":\"mean\",\"meanText\":\"" + "word ".repeat(200) + "\""), "more than the context"),
                new Bad(body("resid_pre", ",\"direction\":\"zero\",\"meanText\":\"" + MEAN_TEXT + "\""), "only by the mean ablation"),
                new Bad(body("head_pattern", ",\"direction\":\"mean\",\"meanText\":\"" + MEAN_TEXT + "\""), "attention patterns"))) {
            HttpResponse<String> res = post(LoupeApp.MODEL, b.body());
            assertEquals(400, res.statusCode(), res.body());
            JsonNode e = JSON.readTree(res.body());
            assertEquals(400, e.get("status").asInt());
            assertTrue(e.get("message").asText().contains(b.says()), res.body());
        }
    }

    @Test
    void theQuotesAndInductionTasksAndAnAttentionOnlyBlockPanel() throws Exception {
        for (String task : List.of("quotes", "induction")) {
            JsonNode t = checkAgainstApi(LoupeApp.MODEL, "dataset=" + task + "&pairs=8&sweep=resid_pre&dir=denoise",
                    "{\"task\":\"" + task + "\",\"pairs\":8,\"sweep\":\"resid_pre\",\"direction\":\"denoise\"}");
            assertEquals("task " + task, t.get("dataset").asText());
            assertThat(page.locator("#patching-summary")).containsText("mean over " + t.get("pairs").asInt() + " pairs (task " + task + ")");
            // a dataset's metric names its per-pair tokens
            assertThat(page.locator("#patching-summary")).containsText("logit(answer) − logit(wrong) at position -1");
        }
        screenshot("patching-task-induction");
        // induction-2l has no MLPs: its every-block panel is resid_pre and attn_out
        String clean = "[0,12,40,77,150,9,201,33,88,120,61,12,40,77,150,9,201,33,88,120]";
        String corrupt = "[0,12,40,77,150,9,201,33,88,230,61,12,40,77,150,9,201,33,88,120]";
        String words = java.util.Arrays.stream(clean.replaceAll("[\\[\\]]", "").split(",")).skip(1).map(x -> "t" + x).collect(java.util.stream.Collectors.joining(" "));
        String bad = words.replace("t120 t61", "t230 t61");
        JsonNode p = checkAgainstApi("induction-2l", "clean=" + enc(words) + "&corrupt=" + enc(bad) + "&a=t61&b=t230&sweep=every_block&dir=denoise",
                "{\"clean\":\"" + words + "\",\"corrupt\":\"" + bad + "\",\"metric\":\"logit_diff\",\"a\":\"t61\",\"b\":\"t230\",\"sweep\":\"every_block\",\"direction\":\"denoise\"}");
        assertEquals(List.of("resid_pre", "attn_out"), JSON.convertValue(p.get("components"), List.class));
        assertThat(page.locator("#patching-heatmap-mlp_out")).hasCount(0);
    }

    @Test
    void pathPatchingFromMlpsAndWithFrozenMlpsAndTheMeanOverADataset() throws Exception {
        JsonNode m = checkAgainstApi(LoupeApp.MODEL, pageQuery("path_mlp:logits", "noise"), body("path_mlp:logits", ",\"direction\":\"noise\""));
        assertEquals(List.of("layer"), JSON.convertValue(m.get("axes"), List.class));
        assertEquals(LoupeApp.MODEL_LAYERS, m.get("shape").get(0).asInt());
        assertThat(page.locator("#patching-path-about")).containsText("from each sender MLP straight to the logits");
        assertThat(page.locator("#patching-heatmap svg text").getByText("MLP", new Locator.GetByTextOptions().setExact(true))).hasCount(1);
        JsonNode f = checkAgainstApi(LoupeApp.MODEL, pageQuery("path:q:1.0,1.3:frozen", "denoise"), body("path:q:1.0,1.3:frozen", ""));
        assertEquals("path:q:1.0,1.3:frozen", f.get("sweep").asText());
        assertThat(page.locator("#freeze-mlps")).hasAttribute("checked", "");
        assertThat(page.locator("#receivers input")).hasValue("1.0,1.3");
        assertThat(page.locator("#patching-path-about")).containsText("every other MLP's output frozen too");
        checkAgainstApi(LoupeApp.MODEL, pageQuery("path_mlp:v:1.2", "denoise"), body("path_mlp:v:1.2", ""));
        // the checkbox: path:logits with the MLPs frozen is the API's path:logits:frozen
        page.navigate(app.url("/model/" + LoupeApp.MODEL + "/patching?" + pageQuery("path:logits", "denoise")));
        assertThat(page.locator("#patching-summary")).isVisible(new com.microsoft.playwright.assertions.LocatorAssertions.IsVisibleOptions().setTimeout(120_000));
        page.locator("#freeze-mlps input").check();
        page.locator("#run").click();
        String key = JSON.readTree(post(LoupeApp.MODEL, body("path:logits:frozen", "")).body()).get("key").asText();
        page.waitForURL(Pattern.compile(".*[?&]id=" + key + ".*"), new com.microsoft.playwright.Page.WaitForURLOptions().setTimeout(120_000));
        assertTrue(page.url().contains("sweep=" + enc("path:logits:frozen")), page.url());
        // an attention-only model has no MLPs: no checkbox, and REST refuses MLP senders and frozen MLPs
        page.navigate(app.url("/model/induction-2l/patching?sweep=" + enc("path:logits") + "&clean=" + enc("t1 t2 t3") + "&corrupt=" + enc("t1 t4 t3")));
        assertThat(page.locator("#patching-summary")).isVisible(new com.microsoft.playwright.assertions.LocatorAssertions.IsVisibleOptions().setTimeout(120_000));
        assertThat(page.locator("#freeze-mlps")).isHidden();
        for (String bad : List.of("path_mlp:logits", "path:logits:frozen")) {
            HttpResponse<String> res = post("induction-2l", "{\"clean\":\"t1 t2 t3\",\"corrupt\":\"t1 t4 t3\",\"sweep\":\"" + bad + "\"}");
            assertEquals(400, res.statusCode(), res.body());
            assertTrue(JSON.readTree(res.body()).get("message").asText().contains("attention-only model has no MLPs"), res.body());
        }
        // the mean ablation over a dataset's clean prompts
        JsonNode d = checkAgainstApi(LoupeApp.MODEL, "dataset=agreement&pairs=8&sweep=attn_out&dir=mean",
                "{\"task\":\"agreement\",\"pairs\":8,\"sweep\":\"attn_out\",\"direction\":\"mean\"}");
        assertEquals("mean", d.get("direction").asText());
        assertTrue(d.get("meanTextTokens").isNull());
    }

    // ------------------------------------------------------------------ the walkthroughs of docs/PATCHING.md

    @Test
    void theWalkthroughsFindTheirLayersNeuronsAndHeads() throws Exception {
        // brown-6l prefers a vowel after " an": MLP 0 at the last position carries it
        String an = "clean=" + enc("She picked up an") + "&corrupt=" + enc("She picked up a") + "&metric=logprob&a=" + enc("·old");
        String anBody = "{\"clean\":\"She picked up an\",\"corrupt\":\"She picked up a\",\"metric\":\"logprob\",\"a\":\"·old\"";
        JsonNode layers = checkAgainstApi("brown-6l", an + "&sweep=mlp_out&dir=denoise", anBody + ",\"sweep\":\"mlp_out\"}");
        assertEquals(-2.22, layers.get("cleanMetric").asDouble(), 0.01);
        assertEquals(-7.61, layers.get("corruptMetric").asDouble(), 0.01);
        int last = layers.get("shape").get(1).asInt() - 1;
        assertTrue(layers.get("normalised").get(0).get(last).asDouble() > 0.95, layers.get("normalised").toString());
        screenshot("patching-an-layers");
        JsonNode neurons = checkAgainstApi("brown-6l", an + "&sweep=" + enc("neurons:3:-1") + "&dir=denoise", anBody + ",\"sweep\":\"neurons:3:-1\"}");
        List<Double> norm = flat(neurons.get("normalised"));
        int best = 0;
        for (int i = 1; i < norm.size(); i++) if (Math.abs(norm.get(i)) > Math.abs(norm.get(best))) best = i;
        assertEquals(336, best, "the docs' top neuron of layer 3");
        assertThat(page.locator("#patching-neuron-links a").first()).hasText("N336");
        screenshot("patching-an-neurons");

        // induction-2l: head 0.2 at the first t61, then the induction heads at the last position
        String clean = "t12 t40 t77 t150 t9 t201 t33 t88 t120 t61 t12 t40 t77 t150 t9 t201 t33 t88 t120";
        String corrupt = clean.replaceFirst("t120 t61", "t230 t61");
        JsonNode heads = checkAgainstApi("induction-2l", "clean=" + enc(clean) + "&corrupt=" + enc(corrupt) + "&a=t61&b=t230&sweep=head_out_by_pos&dir=denoise",
                "{\"clean\":\"" + clean + "\",\"corrupt\":\"" + corrupt + "\",\"metric\":\"logit_diff\",\"a\":\"t61\",\"b\":\"t230\",\"sweep\":\"head_out_by_pos\"}");
        assertTrue(heads.get("normalised").get(0).get(10).get(2).asDouble() > 0.95, heads.get("normalised").get(0).get(10).toString());
        screenshot("patching-induction");
    }

    // ------------------------------------------------------------------ datasets of pairs

    static final String DATASET = "{\"prompts\":[{\"clean\":\"The old boys\",\"corrupt\":\"The old boy\",\"answer\":\" were\",\"wrong\":\" was\"},"
            + "{\"clean\":\"The young girls\",\"corrupt\":\"The young girl\",\"answer\":\" were\",\"wrong\":\" was\"},"
            + "{\"clean\":\"The tall men\",\"corrupt\":\"The tall man\",\"answer\":\" are\",\"wrong\":\" is\"}]}";

    @Test
    void aBuiltInTaskAndAnUploadedDatasetAreAveragedOverTheirPairs() throws Exception {
        JsonNode t = checkAgainstApi(LoupeApp.MODEL, "dataset=agreement&pairs=8&sweep=head_out_by_pos&dir=denoise",
                "{\"task\":\"agreement\",\"pairs\":8,\"sweep\":\"head_out_by_pos\",\"direction\":\"denoise\"}");
        assertEquals("task agreement", t.get("dataset").asText());
        assertThat(page.locator("#patching-summary")).containsText("mean over " + t.get("pairs").asInt() + " pairs (task agreement)");
        assertThat(page.locator("#clean input")).isDisabled();

        // an upload: a bad pair is named beside the input picker; a good one runs and matches the API
        page.navigate(app.url("/model/" + LoupeApp.MODEL + "/patching?dataset=upload&sweep=resid_pre"));
        assertThat(page.locator("p#error")).containsText("upload a dataset JSON first");
        String bad = DATASET.replace("\"The tall man\"", "\"The man\"");
        page.locator("#upload input[type=file]").setInputFiles(new com.microsoft.playwright.options.FilePayload("pairs.json", "application/json",
                bad.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        assertThat(page.locator("#upload vaadin-upload-file[complete]")).hasCount(1);
        page.locator("#run").click();
        assertThat(page.locator("p#error")).containsText("pair 2: clean and corrupted prompts must have the same number of tokens, got 4 and 3");
        assertThat(page.locator("#dataset")).hasAttribute("invalid", "");
        page.locator("#upload input[type=file]").setInputFiles(new com.microsoft.playwright.options.FilePayload("pairs2.json", "application/json",
                DATASET.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        assertThat(page.locator("#upload vaadin-upload-file[complete]")).hasCount(1);
        page.locator("#run").click();
        assertThat(page.locator("#patching-summary")).containsText("mean over 3 pairs (uploaded)",
                new com.microsoft.playwright.assertions.LocatorAssertions.ContainsTextOptions().setTimeout(120_000));
        JsonNode u = result(LoupeApp.MODEL, "{\"dataset\":" + DATASET + ",\"sweep\":\"resid_pre\"}").get("result");
        assertThat(page.locator("#patching-summary")).containsText(String.format(java.util.Locale.ROOT, "clean %s", fmt(u.get("cleanMetric").asDouble())));
        assertEquals(page.locator("#patching-summary").getAttribute("data-key"), post(LoupeApp.MODEL, "{\"dataset\":" + DATASET + ",\"sweep\":\"resid_pre\"}")
                .headers().firstValue("X-Loupe-Result").orElse(""));
        screenshot("patching-dataset");

        // REST names the pair too
        HttpResponse<String> res = post(LoupeApp.MODEL, "{\"dataset\":" + bad + ",\"sweep\":\"resid_pre\"}");
        assertEquals(400, res.statusCode(), res.body());
        assertTrue(JSON.readTree(res.body()).get("message").asText().startsWith("pair 2:"), res.body());
    }

    // ------------------------------------------------------------------ the shared job progress bar

    @Test
    void aRunningSweepReopensFromItsLinkWithLiveProgressAndCancel() throws Exception {
        // 64 pairs × 4 positions × 256 neurons = 65,536 patched runs: long enough to watch
        page.navigate(app.url("/model/" + LoupeApp.MODEL + "/patching?dataset=agreement&pairs=64&sweep=" + enc("neurons:0") + "&dir=noise"));
        Locator bar = page.locator("#patching-progress");
        assertThat(bar).hasAttribute("data-job", Pattern.compile(".+"), new com.microsoft.playwright.assertions.LocatorAssertions.HasAttributeOptions().setTimeout(60_000));
        String job = bar.getAttribute("data-job");
        try {
            page.waitForURL(Pattern.compile(".*job=" + Pattern.quote(job) + ".*"));
            String link = page.url();
            com.microsoft.playwright.Page other = context.newPage();
            other.navigate(link);
            Locator again = other.locator("#patching-progress");
            assertThat(again).hasAttribute("data-job", job);
            assertThat(again).hasAttribute("data-state", "running", new com.microsoft.playwright.assertions.LocatorAssertions.HasAttributeOptions().setTimeout(60_000));
            assertThat(again.locator(".job-status")).containsText("%");
            again.locator(".job-cancel").click();
            assertThat(again).hasAttribute("data-state", "cancelled", new com.microsoft.playwright.assertions.LocatorAssertions.HasAttributeOptions().setTimeout(180_000));
            assertThat(other.locator("#error")).containsText("Cancelled");
            assertThat(bar).hasAttribute("data-state", "cancelled", new com.microsoft.playwright.assertions.LocatorAssertions.HasAttributeOptions().setTimeout(30_000));
            assertEquals("CANCELLED", get(app, "/api/v1/jobs/" + job).get("state").asText());
            other.close();
        } finally {
            // never leave a long job holding the job worker for the next tests
            LoupeApp.HTTP.send(HttpRequest.newBuilder(URI.create(app.url("/api/v1/jobs/" + job))).DELETE().build(), HttpResponse.BodyHandlers.ofString());
        }
    }

    // ------------------------------------------------------------------ bad input beside the field

    @Test
    void badInputIsRefusedBesideTheFieldItConcerns() {
        record Bad(String query, String field, String says) {}
        for (Bad b : List.of(
                new Bad("clean=" + enc(CLEAN) + "&corrupt=" + enc("The dog") + "&sweep=resid_pre", "clean", "7 tokens and the corrupted prompt 3 tokens"),
                new Bad(pageQuery("resid_pre", "denoise").replace("a=" + enc("·mat"), "a=" + enc("·zzqqxxv")), "token-a", "unknown token"),
                new Bad(pageQuery("resid_pre", "denoise") + "&position=12", "position", "position 12 is outside the prompt of 7 tokens"),
                new Bad("dataset=agreement&pairs=256&sweep=" + enc("neurons:0"), "sweep", "over the limit of 200000"))) {
            page.navigate(app.url("/model/" + LoupeApp.MODEL + "/patching?" + b.query()));
            assertThat(page.locator("#error")).containsText(b.says(), new com.microsoft.playwright.assertions.LocatorAssertions.ContainsTextOptions().setTimeout(60_000));
            assertThat(page.locator("#" + b.field())).hasAttribute("invalid", "");
            assertThat(page.locator("#" + b.field() + " [slot=error-message]")).containsText(b.says());
            assertThat(page.locator("#patching-summary")).hasCount(0);
            assertThat(page.locator("#patching-progress")).hasCount(0);
        }
    }
}
