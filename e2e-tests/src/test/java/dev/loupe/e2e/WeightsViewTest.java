package dev.loupe.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.microsoft.playwright.Locator;
import com.microsoft.playwright.assertions.LocatorAssertions;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

import static com.microsoft.playwright.assertions.PlaywrightAssertions.assertThat;
import static dev.loupe.e2e.Explore.JSON;
import static dev.loupe.e2e.Explore.get;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The weights view in Chromium: composition heatmaps and a head's QK / OV tables against the REST answers and the
 * PyTorch fixture (backend/src/test/resources/fixtures/weights.json).
 */
class WeightsViewTest extends BrowserTest {
    static final String INDUCTION = "induction-2l";
    static final LocatorAssertions.ContainsTextOptions SLOW = new LocatorAssertions.ContainsTextOptions().setTimeout(120_000);

    static JsonNode fixture() throws Exception {
        Path p = Path.of("..", "backend", "src", "test", "resources", "fixtures", "weights.json");
        return JSON.readTree(Files.readString(p));
    }

    /** The value the heatmap draws at (x, y): its data items are [x, y, v] or {value: [x, y, v]}. */
    private double cell(String selector, int x, int y) {
        Object v = chart(selector, "c => { const d = c.getOption().series[0].data.map(e => Array.isArray(e) ? e : e.value);"
                + " const f = d.find(e => e[0] === " + x + " && e[1] === " + y + "); return f ? f[2] : null; }");
        assertTrue(v instanceof Number, selector + " has no cell " + x + "," + y);
        return ((Number) v).doubleValue();
    }

    @Test
    void compositionOfInductionHeadsMatchesTheFixtureAndTheApi() throws Exception {
        JsonNode ref = fixture().get("models").get(INDUCTION).get("composition");
        JsonNode api = get(app, "/api/v1/models/" + INDUCTION + "/weights/composition").get("result");
        List<String> senders = JSON.convertValue(api.get("senders"), JSON.getTypeFactory().constructCollectionType(List.class, String.class));
        List<String> receivers = JSON.convertValue(api.get("receivers"), JSON.getTypeFactory().constructCollectionType(List.class, String.class));
        assertEquals(List.of("0.0", "0.1", "0.2", "0.3"), senders);
        for (String kind : List.of("q", "k", "v"))
            for (int r = 0; r < 4; r++)
                for (int s = 0; s < 4; s++)
                    assertEquals(ref.get(kind).get(0).get(s).get(1).get(r).asDouble(), api.get(kind).get(r).get(s).asDouble(), 1e-4,
                            kind + " " + s + " -> 1." + r);
        // K-composition with the previous-token head 0.2 stands out above the random baseline
        double chance = api.get("baseline").get("mean").asDouble() + 5 * api.get("baseline").get("std").asDouble();
        int strong = 0;
        for (int r = 0; r < 4; r++) if (api.get("k").get(r).get(2).asDouble() > chance) strong++;
        assertTrue(strong >= 2, "layer-1 heads K-composing with 0.2 above chance: " + strong);

        page.setViewportSize(1400, 1000);
        page.navigate(app.url("/model/" + INDUCTION + "/weights?layer=1&head=2"));
        assertThat(page.locator("#baseline")).containsText(String.format(Locale.ROOT, "score %.4f ± %.4f",
                api.get("baseline").get("mean").asDouble(), api.get("baseline").get("std").asDouble()), SLOW);
        for (String kind : List.of("q", "k", "v"))
            for (int r = 0; r < 4; r++)
                for (int s = 0; s < 4; s++)
                    assertEquals(api.get(kind).get(r).get(s).asDouble(), cell("#comp-" + kind, s, r), 1e-5, "shown " + kind + " " + s + " -> " + receivers.get(r));
        page.locator("#comp-k").screenshot(new Locator.ScreenshotOptions().setPath(Path.of("target/screenshots/weights-composition-k.png")));

        // minus the baseline: the same cells less the baseline's mean
        page.locator("#comp-mode").click();
        page.locator("vaadin-select-item:has-text('baseline')").click();
        page.waitForURL(Pattern.compile(".*comp=minus.*"));
        assertThat(page.locator("#comp-k")).hasAttribute("data-rendered", Pattern.compile("\\d+"));
        double shifted = api.get("k").get(2).get(2).asDouble() - api.get("baseline").get("mean").asDouble();
        Object title = chart("#comp-k", "c => c.getOption().title[0].text");
        assertTrue(String.valueOf(title).contains("baseline"), String.valueOf(title));
        assertEquals(shifted, cell("#comp-k", 2, 2), 1e-5);
    }

    @Test
    void topPairsOfAHeadMatchTheApiAndTheFixture() throws Exception {
        JsonNode head = fixture().get("models").get(INDUCTION).get("heads").get(0);
        assertEquals(1, head.get("layer").asInt());
        int k = fixture().get("k").asInt();
        JsonNode api = get(app, "/api/v1/models/" + INDUCTION + "/weights/heads/1/2?rows=" + k).get("result");
        for (String name : List.of("qk", "ov")) {
            JsonNode want = head.get(name).get("top"), got = api.get(name).get("rows");
            for (int i = 0; i < k; i++) {
                assertEquals(want.get(i).get("row").asInt(), got.get(i).get("token").get("id").asInt(), name + " row " + i);
                assertEquals(want.get(i).get("values").get(0).asDouble(), got.get(i).get("top").get(0).get("value").asDouble(), 1e-4);
            }
            assertEquals(head.get(name).get("positivity").asDouble(), api.get(name).get("positivity").asDouble(), 1e-4, name + " positivity");
        }

        page.setViewportSize(1400, 1000);
        page.navigate(app.url("/model/" + INDUCTION + "/weights?layer=1&head=2&rows=" + k));
        assertThat(page.locator("#ov-summary")).containsText(String.format(Locale.ROOT, "Σλ/Σ|λ| = %.3f", api.get("ov").get("positivity").asDouble()), SLOW);
        for (String name : List.of("qk", "ov")) {
            JsonNode pairs = api.get(name).get("pairs");
            Locator rows = page.locator("#" + name + "-pairs tr");
            assertEquals(k + 1, rows.count());
            for (int i = 0; i < k; i++) {
                List<String> cells = rows.nth(i + 1).locator("td").allTextContents();
                assertEquals(pairs.get(i).get("row").get("token").asText(), cells.get(1), name + " pair " + i);
                assertEquals(pairs.get(i).get("col").get("token").asText(), cells.get(2), name + " pair " + i);
                assertEquals(String.format(Locale.ROOT, "%.4f", pairs.get(i).get("value").asDouble()), cells.get(3), name + " pair " + i);
            }
            String first = page.locator("#" + name + "-rows tr").nth(1).locator("td").first().textContent();
            assertEquals(api.get(name).get("rows").get(0).get("token").get("token").asText(), first);
        }
        page.locator("#ov-rows").screenshot(new Locator.ScreenshotOptions().setPath(Path.of("target/screenshots/weights-ov-induction.png")));
        screenshot("weights-induction");

        // a token's row and column
        page.locator("#token input").fill("t5");
        page.locator("#run").click();
        page.waitForURL(Pattern.compile(".*token=t5.*"));
        JsonNode t = get(app, "/api/v1/models/" + INDUCTION + "/weights/heads/1/2?rows=" + k + "&token=t5").get("result").get("token");
        assertThat(page.locator("#token-rows")).containsText(t.get("ov").get("asRow").get(0).get("token").get("token").asText() + " "
                + String.format(Locale.ROOT, "%.4f", t.get("ov").get("asRow").get(0).get("value").asDouble()), SLOW);
    }

    @Test
    void theAttentionViewLinksToTheHeadsWeightsAndBadInputIsNamed() {
        page.navigate(app.url("/model/" + INDUCTION + "/attention?text=t1%20t2%20t3%20t1%20t2&layer=1&head=3"));
        page.locator("#head-weights").click();
        page.waitForURL(Pattern.compile(".*/model/" + INDUCTION + "/weights\\?.*"));
        assertTrue(page.url().contains("layer=1") && page.url().contains("head=3"), page.url());
        assertThat(page.locator("#qk-summary")).containsText("Eigenvalue positivity", SLOW);

        page.navigate(app.url("/model/" + INDUCTION + "/weights?layer=9"));
        assertThat(page.locator("#error")).containsText("layer 9 is out of range");
        assertThat(page.locator("#layer")).isVisible();

        for (String bad : List.of("/heads/9/0", "/heads/0/9", "/heads/0/0?rows=0", "/heads/0/0?sign=up", "/heads/0/0?rank=best", "/heads/0/0?token=zzz")) {
            var r = app.get("/api/v1/models/" + INDUCTION + "/weights" + bad);
            assertEquals(400, r.statusCode(), bad + ": " + r.body());
            assertTrue(r.body().contains("\"message\""), r.body());
        }
        assertEquals(404, app.get("/api/v1/models/nope/weights/composition").statusCode());
    }

    /**
     * brown-6l (d_vocab 50,257): rows by norm by default, the exact search on request. Its top pair is the largest
     * entry of the whole matrix, so at least the best pair among the rows of largest norm; its rows are the rows of
     * its pairs, and the bound spared most of the 2.5·10⁹ entries (head 0.1, whose search is among the fast ones).
     */
    @Test
    void theExactSearchRunsAtGpt2sVocabulary() throws Exception {
        JsonNode byNorm = get(app, "/api/v1/models/brown-6l/weights/heads/0/1").get("result");
        assertEquals("norm", byNorm.get("ov").get("rank").asText());
        JsonNode exact = get(app, "/api/v1/models/brown-6l/weights/heads/0/1?rank=max").get("result");
        for (String circuit : List.of("qk", "ov")) {
            JsonNode c = exact.get(circuit), n = byNorm.get(circuit);
            assertEquals("max", c.get("rank").asText());
            assertEquals(50257L * 50257, c.get("entriesTotal").asLong());
            assertTrue(c.get("entriesComputed").asLong() < c.get("entriesTotal").asLong() / 2, circuit + ": " + c.get("entriesComputed"));
            double top = c.get("pairs").get(0).get("value").asDouble();
            assertTrue(top >= n.get("pairs").get(0).get("value").asDouble() - 1e-9, circuit);
            for (int i = 1; i < c.get("pairs").size(); i++) assertTrue(c.get("pairs").get(i).get("value").asDouble() <= top);
            // the largest entry is its row's largest: the first row shown holds it
            assertEquals(c.get("pairs").get(0).get("row").get("id").asInt(), c.get("rows").get(0).get("token").get("id").asInt());
            assertEquals(top, c.get("rows").get(0).get("top").get(0).get("value").asDouble(), 1e-12);
        }
        page.navigate(app.url("/model/brown-6l/weights?layer=0&head=1&rank=max"));
        assertThat(page.locator("#ov-summary")).containsText("entries computed", SLOW);
        assertThat(page.locator("#rank")).containsText("largest entry (exact)");
        assertThat(page.locator("#rank [slot=helper]")).containsText("exact: up to a minute per head at 50,257 tokens");
        screenshot("weights-brown-6l-exact");
    }

    /** brown-6l (d_vocab 50,257): the time until the view is interactive, printed (the machine is shared and loaded). */
    @Test
    void brown6lBecomesInteractive() {
        page.setViewportSize(1400, 1000);
        long t0 = System.nanoTime();
        page.navigate(app.url("/model/brown-6l/weights?layer=2&head=1"));
        assertThat(page.locator("#ov-rows")).containsText("row norm", SLOW);
        assertThat(page.locator("#comp-k")).hasAttribute("data-rendered", Pattern.compile("\\d+"),
                new LocatorAssertions.HasAttributeOptions().setTimeout(120_000));
        double first = (System.nanoTime() - t0) / 1e9;
        long t1 = System.nanoTime();
        page.navigate(app.url("/model/brown-6l/weights?layer=2&head=1"));
        assertThat(page.locator("#comp-k")).hasAttribute("data-rendered", Pattern.compile("\\d+"),
                new LocatorAssertions.HasAttributeOptions().setTimeout(120_000));
        double again = (System.nanoTime() - t1) / 1e9;
        long t2 = System.nanoTime();
        page.navigate(app.url("/model/brown-6l/weights?layer=3&head=0"));
        assertThat(page.locator("#qk-summary")).containsText("Rows shown", SLOW);
        assertThat(page.locator("#comp-k")).hasAttribute("data-rendered", Pattern.compile("\\d+"),
                new LocatorAssertions.HasAttributeOptions().setTimeout(120_000));
        double other = (System.nanoTime() - t2) / 1e9;
        System.out.printf(Locale.ROOT, "weights-view brown-6l: first visit %.2f s, cached %.2f s, another head %.2f s%n", first, again, other);
        screenshot("weights-brown-6l");
    }
}
