package dev.loupe.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.microsoft.playwright.Locator;
import com.microsoft.playwright.Page;
import com.microsoft.playwright.options.ScreenshotType;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Locale;
import java.util.regex.Pattern;

import static com.microsoft.playwright.assertions.PlaywrightAssertions.assertThat;
import static dev.loupe.e2e.Explore.get;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The algorithmic view of modadd-113 in Chromium, checked against the REST API's numbers. */
class AlgorithmicViewTest extends BrowserTest {
    static final String MODADD = "modadd-113";

    private void rendered(String selector) {
        assertThat(page.locator(selector)).hasAttribute("data-rendered", Pattern.compile("\\d+"));
    }

    @Test
    void spectrumGridsNeuronsAndCurvesOfModadd() {
        JsonNode o = get(app, "/api/v1/models/" + MODADD + "/algorithmic");
        assertEquals(113, o.get("p").asInt());
        JsonNode keys = o.get("spectrum").get("keys");
        double fraction = o.get("spectrum").get("keyFraction").asDouble();
        assertTrue(fraction > 0.5, "the key frequencies hold most of the power: " + fraction);
        assertEquals(1.0, o.get("testAccuracy").asDouble(), 1e-3);

        page.setViewportSize(1300, 900);
        page.navigate(app.url("/model/" + MODADD + "/algorithmic"));
        Locator summary = page.locator("#summary");
        // the first visit runs all 12,769 prompts and transforms 512 neurons: allow for a loaded machine
        assertThat(summary).containsText("Key frequencies of W_E",
                new com.microsoft.playwright.assertions.LocatorAssertions.ContainsTextOptions().setTimeout(180_000));
        assertThat(summary).containsText(keys.get(0).asInt() + " (");
        assertThat(summary).containsText(String.format(Locale.ROOT, "together %.1f %%", 100 * fraction));
        assertThat(summary).containsText(String.format(Locale.ROOT, "%.2f %% on the held-out pairs", 100 * o.get("testAccuracy").asDouble()));
        for (String id : new String[]{"#spectrum", "#answers", "#neuron-frequencies", "#neuron-map", "#neuron-power", "#curves"}) rendered(id);
        assertTrue(chartTexts("#curves").contains("restricted_loss"), "the progress measures are drawn");

        // another neuron: its dominant frequency as the API computes it
        JsonNode n5 = get(app, "/api/v1/models/" + MODADD + "/algorithmic/neurons/5");
        page.locator("#neuron input").fill("5");
        page.locator("#neuron input").press("Enter");
        page.waitForURL(Pattern.compile(".*neuron=5.*"));
        // the 113 x 113 neuron map is drawn on a canvas, so its title is read from the chart's ECharts option;
        // the map redraws once the grid is computed, which on the first visit may take as long as the summary did
        String title = String.format(Locale.ROOT, "neuron 5 at '=' (dominant frequency %d,", n5.get("frequency").asInt());
        page.waitForFunction("([sel, text]) => { const c = document.querySelector(sel)?.chart;"
                        + " const t = c && c.getOption() && c.getOption().title; return !!t && t.length > 0 && String(t[0].text).includes(text); }",
                java.util.List.of("#neuron-map", title), new Page.WaitForFunctionOptions().setTimeout(180_000));
        String shown = (String) chart("#neuron-map", "c => c.getOption().title[0].text");
        assertTrue(shown.startsWith(title), "the neuron map's title gives the API's dominant frequency: " + shown);
        assertEquals(113, n5.get("activation").size());

        page.locator("#spectrum").screenshot(new Locator.ScreenshotOptions().setPath(Path.of("target/screenshots/algorithmic-spectrum.png")));
        page.locator("#answers").screenshot(new Locator.ScreenshotOptions().setPath(Path.of("target/screenshots/algorithmic-answers.jpg"))
                .setType(ScreenshotType.JPEG).setQuality(70));
        page.locator("#neuron-map").screenshot(new Locator.ScreenshotOptions().setPath(Path.of("target/screenshots/algorithmic-neuron.jpg"))
                .setType(ScreenshotType.JPEG).setQuality(70));
    }

    @Test
    void aLanguageModelIsRefusedWithAMessage() {
        var r = app.get("/api/v1/models/" + LoupeApp.MODEL + "/algorithmic");
        assertEquals(400, r.statusCode(), r.body());
        assertTrue(r.body().contains("not an algorithmic model"), r.body());
        assertEquals(400, app.get("/api/v1/models/" + MODADD + "/algorithmic/neurons/99999").statusCode());
        assertEquals(400, app.get("/api/v1/models/" + MODADD + "/algorithmic/neurons/x").statusCode());
        page.navigate(app.url("/model/" + LoupeApp.MODEL + "/algorithmic"));
        assertThat(page.locator("#error")).containsText("not an algorithmic model");
    }
}
