package dev.loupe.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.microsoft.playwright.Download;
import com.microsoft.playwright.Locator;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import static com.microsoft.playwright.assertions.PlaywrightAssertions.assertThat;
import static dev.loupe.e2e.Explore.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The logit lens over every stream, DLA by source position, generation and compare prompts in Chromium: the page's
 * numbers against the REST answers, and the REST answers against identities (the last resid_post's lens is the
 * model's prediction; a head's sources sum to its attribution; greedy tokens are the prompt view's top predictions;
 * each compared row is the single-prompt attribution). The PyTorch fixtures check the same analyses in the backend.
 */
class NextViewsTest extends BrowserTest {

    private void open(String path) {
        page.navigate(app.url(path));
        page.waitForLoadState();
    }

    /** The chart's cell [x, y] value (heatmap data with or without per-cell labels). */
    private double cell(String selector, int x, int y) {
        return ((Number) chart(selector, "c => c.getOption().series[0].data.map(d => d.value || d).find(d => d[0] === " + x
                + " && d[1] === " + y + ")[2]")).doubleValue();
    }

    @Test
    void logitLensOverEveryStream() {
        String q = "text=" + enc(PROMPT);
        JsonNode all = get(app, api("logit-lens", q + "&stream=all")).get("result");
        JsonNode post = get(app, api("logit-lens", q + "&stream=resid_post")).get("result");
        JsonNode prompt = get(app, api("prompt", q)).get("result").get("positions");
        int n = LoupeApp.MODEL_LAYERS, t = prompt.size();
        assertEquals(4 * n + 1, all.get("layers").size());
        assertEquals("blocks.0.hook_attn_out", all.get("layers").get(1).asText());
        // identity: the lens of the last resid_post is the model's own prediction at every position
        for (int p = 0; p < t; p++) {
            JsonNode lens = post.get("cells").get(n - 1).get(p).get("top").get(0), model = prompt.get(p).get("next").get(0);
            assertEquals(model.get("id").asInt(), lens.get("id").asInt(), "position " + p);
            assertEquals(model.get("prob").asDouble(), lens.get("prob").asDouble(), 1e-6);
            assertEquals(lens.get("prob").asDouble(), all.get("cells").get(4 * n).get(p).get("top").get(0).get("prob").asDouble(), 1e-6);
        }
        assertEquals(400, app.get(api("logit-lens", q + "&stream=resid_side")).statusCode());

        open(view("lens", q + "&stream=all"));
        List<String> labels = new ArrayList<>();
        for (Object o : (List<?>) chart("#lens-map", "c => c.getOption().yAxis[0].data")) labels.add(o.toString());
        assertEquals(List.of("L0 resid_pre", "L0 attn_out", "L0 resid_mid", "L0 mlp_out", "L1 resid_pre", "L1 attn_out", "L1 resid_mid",
                "L1 mlp_out", "L1 resid_post"), labels);
        // every cell's colour is its top token's probability from the API (the mlp_out row of block 1, position 4)
        assertEquals(all.get("cells").get(7).get(4).get("top").get(0).get("prob").asDouble(), cell("#lens-map", 4, 7), 1e-6);
        assertThat(page.locator("#results")).containsText("one stream of a block, in forward order");
        screenshot("explorer-lens-streams");

        // the stream picker writes the URL
        page.locator("#lens-stream").click();
        page.locator("vaadin-select-item", new com.microsoft.playwright.Page.LocatorOptions().setHasText("attn_out")).click();
        page.locator("#run").click();
        page.waitForURL(Pattern.compile(".*stream=attn_out.*"));
        JsonNode attn = get(app, api("logit-lens", q + "&stream=attn_out")).get("result");
        assertEquals(attn.get("cells").get(1).get(t - 1).get("top").get(0).get("prob").asDouble(), cell("#lens-map", t - 1, 1), 1e-6);
    }

    @Test
    void dlaBySourcePosition() {
        String q = "text=" + enc(PROMPT) + "&a=" + enc("·mat") + "&b=" + enc("·cat");
        JsonNode r = get(app, api("dla/sources", q)).get("result");
        JsonNode dla = get(app, api("dla", q)).get("result");
        int pos = dla.get("position").asInt();
        for (int l = 0; l < LoupeApp.MODEL_LAYERS; l++)
            for (int h = 0; h < LoupeApp.MODEL_HEADS; h++) {
                JsonNode src = r.get("sources").get(l).get(h);
                assertEquals(pos + 1, src.size());
                double sum = 0;
                for (JsonNode v : src) sum += v.asDouble();
                // identity: a head's sources sum to its direct logit attribution
                assertEquals(dla.get("heads").get(l).get(h).asDouble(), sum, 1e-5, "head " + l + "." + h);
            }

        open(view("dla", q + "&sources=true"));
        assertThat(page.locator("#by-source input")).isChecked();
        // row L·H+h, column s: the API's number
        int l = 1, h = 2, s = 3;
        assertEquals(r.get("sources").get(l).get(h).get(s).asDouble(), cell("#dla-sources", s, l * LoupeApp.MODEL_HEADS + h), 1e-6);
        double rowSum = 0;
        for (int src = 0; src <= pos; src++) rowSum += cell("#dla-sources", src, l * LoupeApp.MODEL_HEADS + h);
        assertEquals(cell("#dla-heads", h, l), rowSum, 1e-4);
        assertThat(page.locator("#dla-total")).containsText(f4(dla.get("logitDiff").asDouble()));
        page.locator("#dla-sources").scrollIntoViewIfNeeded();
        screenshot("explorer-dla-sources");

        // unticking goes back to the plain attribution
        page.locator("#by-source input").click();
        page.waitForCondition(() -> !page.url().contains("sources="));
        assertThat(page.locator("#dla-sources")).hasCount(0);
    }

    @Test
    void generationGreedyAndSampledThenAnyViewOnTheResult() {
        String prompt = "The cat sat on the";
        JsonNode g = get(app, api("generate", "text=" + enc(prompt) + "&maxNew=6")).get("result");
        JsonNode steps = g.get("steps");
        assertEquals(6, steps.size());
        assertEquals("length", g.get("stopped").asText());
        // identity: each greedy token is the model's top prediction after the tokens before it
        assertTrue(g.get("retokenizes").asBoolean(), "the random model's greedy text tokenizes back");
        JsonNode positions = get(app, api("prompt", "text=" + enc(g.get("text").asText()))).get("result").get("positions");
        int p0 = g.get("prompt").size();
        for (int i = 0; i < steps.size(); i++) {
            JsonNode top = positions.get(p0 + i - 1).get("next").get(0);
            assertEquals(top.get("id").asInt(), steps.get(i).get("token").get("id").asInt(), "step " + i);
            assertEquals(top.get("prob").asDouble(), steps.get(i).get("prob").asDouble(), 1e-6);
        }
        assertEquals(400, app.get(api("generate", "text=" + enc(prompt) + "&maxNew=" + LoupeApp.MODEL_CONTEXT)).statusCode());
        assertEquals(400, app.get(api("generate", "text=" + enc(prompt) + "&temperature=-1")).statusCode());

        // sampled in the page: the tokens shown are the API's for the same seed
        String sq = "text=" + enc(prompt) + "&maxNew=10&temperature=1.0&topK=50&seed=7";
        JsonNode sampled = get(app, api("generate", sq)).get("result");
        open(view("generate", sq));
        Locator tokens = page.locator("#generated-text .gen-token");
        assertThat(tokens).hasCount(sampled.get("steps").size());
        for (int i = 0; i < sampled.get("steps").size(); i++) {
            JsonNode st = sampled.get("steps").get(i);
            assertThat(tokens.nth(i)).hasAttribute("data-id", st.get("token").get("id").asText());
            assertThat(tokens.nth(i)).hasAttribute("data-prob", String.format(java.util.Locale.ROOT, "%.6f", st.get("prob").asDouble()));
        }
        assertThat(page.locator("#generate-summary")).containsText("sampled at temperature 1.0 from the top 50, seed 7");
        double drawn = ((Number) chart("#generate-probs", "c => c.getOption().series[1].data[2][1]")).doubleValue();
        assertEquals(sampled.get("steps").get(2).get("sampleProb").asDouble(), drawn, 1e-6);
        screenshot("explorer-generate");

        // a different seed from the form: a new URL and the API's continuation for it
        page.locator("#seed input").fill("8");
        page.locator("#run").click();
        page.waitForURL(Pattern.compile(".*seed=8.*"));
        JsonNode other = get(app, api("generate", "text=" + enc(prompt) + "&maxNew=10&temperature=1.0&topK=50&seed=8")).get("result");
        assertThat(page.locator("#generated-text .gen-token").first()).hasAttribute("data-id", other.get("steps").get(0).get("token").get("id").asText());

        // open the logit lens on the result: the link carries the generated text
        page.locator("#open-result a[data-view='lens']").click();
        page.waitForURL(Pattern.compile(".*/lens\\?text=.*"));
        assertThat(page.locator("#prompt textarea")).hasValue(other.get("text").asText());
        assertThat(page.locator("#lens-map")).isVisible();
    }

    @Test
    void compareOneMetricOverPrompts() throws Exception {
        List<String> prompts = List.of("The cat sat on the", "The dog sat on the", "A bird flew over the");
        String q = "metric=logit_diff&a=" + enc("·mat") + "&b=" + enc("·floor");
        StringBuilder api = new StringBuilder();
        for (String p : prompts) api.append("text=").append(enc(p)).append('&');
        JsonNode r = get(app, api("compare", api + q)).get("result");
        assertEquals(3, r.get("rows").size());
        // identity: each row is that prompt's own logit difference
        for (int i = 0; i < prompts.size(); i++) {
            JsonNode dla = get(app, api("dla", "text=" + enc(prompts.get(i)) + "&" + q.replace("metric=logit_diff&", ""))).get("result");
            assertEquals(dla.get("logitDiff").asDouble(), r.get("rows").get(i).get("value").asDouble(), 1e-5, "prompt " + i);
        }
        JsonNode loss = get(app, api("compare", api + "metric=loss")).get("result");
        assertEquals(get(app, api("prompt", "text=" + enc(prompts.get(2)))).get("result").get("meanLoss").asDouble(),
                loss.get("rows").get(2).get("value").asDouble(), 1e-6);
        assertEquals(400, app.get(api("compare", api + "metric=logit_diff&a=" + enc("·mat"))).statusCode());

        open(view("compare", "prompts=" + enc(String.join("\n", prompts)) + "&" + q));
        Locator grid = page.locator("vaadin-grid#compare-table");
        for (JsonNode row : r.get("rows"))
            assertThat(grid.locator("vaadin-grid-cell-content", new Locator.LocatorOptions().setHasText(f3(row.get("value").asDouble()))).first()).isVisible();
        assertThat(page.locator("#compare-summary")).containsText("3 prompts");
        screenshot("explorer-compare");

        Download d = page.waitForDownload(() -> page.locator("#compare-csv").click());
        List<String> lines = Files.readAllLines(d.path());
        assertEquals(4, lines.size());
        for (int i = 0; i < 3; i++) {
            String[] cells = lines.get(i + 1).split(",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)");
            assertEquals(r.get("rows").get(Integer.parseInt(cells[0])).get("value").asDouble(), Double.parseDouble(cells[3]), 1e-9);
        }
    }

    @Test
    void compareLongListsTravelInABodyAndTheUrlKeepsTheirId() throws Exception {
        // eight prompts of 120 tokens: too long for a URL (the bug: HTTP 414), fine as a POST body
        List<String> prompts = new ArrayList<>();
        for (int i = 0; i < 8; i++) prompts.add(LongPromptTest.prompt(120 - i));
        StringBuilder q = new StringBuilder("metric=loss");
        for (String p : prompts) q.append("&text=").append(enc(p));
        expectHttpError("/compare");
        RawHttp.Response tooLong = RawHttp.send(app.port(), "GET", api("compare", q.toString()), Map.of(), null);
        assertEquals(414, tooLong.status(), "a list this long does not fit in a request line");
        String body = JSON.writeValueAsString(Map.of("text", prompts, "metric", "loss"));
        RawHttp.Response posted = RawHttp.send(app.port(), "POST", "/api/v1/models/" + LoupeApp.MODEL + "/compare",
                Map.of("Content-Type", "application/json"), body.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        assertEquals(200, posted.status(), posted.body());
        JsonNode r = JSON.readTree(posted.body()).get("result");
        assertEquals(8, r.get("rows").size());
        // identity: each row is that prompt's own mean loss
        for (int i : new int[]{0, 7}) {
            assertEquals(prompts.get(i), r.get("rows").get(i).get("text").asText());
            assertEquals(get(app, api("prompt", "text=" + enc(prompts.get(i)))).get("result").get("meanLoss").asDouble(),
                    r.get("rows").get(i).get("value").asDouble(), 1e-6, "prompt " + i);
        }
        RawHttp.Response csv = RawHttp.send(app.port(), "POST", "/api/v1/models/" + LoupeApp.MODEL + "/compare",
                Map.of("Content-Type", "application/json", "Accept", "text/csv"),
                JSON.writeValueAsString(Map.of("text", prompts, "metric", "loss", "format", "csv")).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        assertEquals(200, csv.status(), csv.body());
        assertEquals(9, csv.body().lines().count());

        // the view: the list goes to the server in the page's own request; the URL holds the result's id
        open(view("compare", "metric=loss"));
        page.locator("#prompts textarea").fill(String.join("\n", prompts));
        page.locator("#run").click();
        assertThat(page.locator("#compare-summary")).containsText("8 prompts");
        page.waitForURL(Pattern.compile(".*[?&]id=[0-9a-f]{64}.*"));
        assertTrue(page.url().length() < 400, page.url());
        Locator grid = page.locator("vaadin-grid#compare-table");
        for (JsonNode row : r.get("rows"))
            assertThat(grid.locator("vaadin-grid-cell-content", new Locator.LocatorOptions().setHasText(f3(row.get("value").asDouble()))).first()).isVisible();
        // the link reopens the same list and numbers
        page.reload();
        assertThat(page.locator("#compare-summary")).containsText("8 prompts");
        assertThat(page.locator("#prompts textarea")).hasValue(String.join("\n", prompts));
        assertThat(grid.locator("vaadin-grid-cell-content", new Locator.LocatorOptions().setHasText(f3(r.get("rows").get(3).get("value").asDouble()))).first()).isVisible();
        // the page's CSV link, fetched in the browser's session (a browser download here was sometimes cancelled by
        // Vaadin's router right after the reload, vaadin/flow#20404): the same bytes as the API's CSV
        String href = page.locator("#compare-csv").getAttribute("href");
        com.microsoft.playwright.APIResponse d = page.context().request().get(java.net.URI.create(app.url("/")).resolve(href).toString()); // relative to the app root (the page has a base href)
        assertEquals(200, d.status(), href);
        assertEquals(csv.body().lines().toList(), d.text().lines().toList());
    }
}
