package dev.loupe.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.regex.Pattern;

import static com.microsoft.playwright.assertions.PlaywrightAssertions.assertThat;
import static dev.loupe.e2e.Explore.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every head at once: thumbnails, hover preview, click to lock; the value-weighted patterns' numbers over REST. */
class AllHeadsViewTest extends BrowserTest {

    @Test
    void thumbnailsPreviewAndLockAHead() {
        String q = "text=" + enc(PROMPT);
        page.navigate(app.url(view("heads", q)));
        assertThat(page.locator("#all-heads .head-map")).hasCount(LoupeApp.MODEL_LAYERS * LoupeApp.MODEL_HEADS);
        page.locator("#all-heads .head-map[data-layer='1'][data-head='2']").hover();
        assertThat(page.locator("#all-heads")).hasAttribute("data-preview", "1.2");
        page.locator("#all-heads .head-map[data-layer='0'][data-head='3']").click();
        page.waitForURL(Pattern.compile(".*head=0\\.3.*"));
        assertThat(page.locator("#all-heads .preview-label")).hasText("0.3 (locked)");
        page.mouse().move(5, 5);
        assertThat(page.locator("#all-heads")).hasAttribute("data-preview", "0.3");
        assertThat(page.locator("#open-head")).hasAttribute("href", Pattern.compile(".*/attention\\?(?=.*layer=0)(?=.*head=3).*"));

        // the thumbnail's pixels are the API's pattern: query 5, key 2 of head 0.3, one byte per cell, on the head's
        // own scale (the 99th percentile of its cells after the first query is the darkest)
        JsonNode att = get(app, api("attention", q + "&layer=0&head=3")).get("result").get("patterns").get(0);
        List<Double> cells = new java.util.ArrayList<>();
        for (int qi = 1; qi < att.size(); qi++) for (int k = 0; k <= qi; k++) cells.add(att.get(qi).get(k).asDouble());
        java.util.Collections.sort(cells);
        double scale = cells.get((int) Math.floor(0.99 * (cells.size() - 1)));
        double a = att.get(5).get(2).asDouble();
        assertEquals(shade(a / scale), pixel(0, 3, 5, 2), 1.5);
        screenshot("explorer-all-heads");
    }

    /** The red channel of a thumbnail's pixel: query q (row), key k (column). */
    private double pixel(int layer, int head, int q, int k) {
        return ((Number) page.locator("#all-heads .head-map[data-layer='" + layer + "'][data-head='" + head + "'] canvas").evaluate(
                "(c, at) => c.getContext('2d').getImageData(at[1], at[0], 1, 1).data[0]", List.of(q, k))).doubleValue();
    }

    /** The red channel the thumbnails give a value on their scale (white 255 to #08306b at 1), one byte per cell. */
    private static double shade(double v) { return 255 - Math.round(Math.min(1, v) * 255) * (255 - 8) / 255.0; }

    @Test
    void ownScalesDarkenTheFaintHeadsAtFullContext() {
        page.setViewportSize(1280, 1000);
        String path = "/model/" + LongPromptTest.MODEL + "/heads?text=" + enc(LongPromptTest.prompt(256));
        page.navigate(app.url(path), new com.microsoft.playwright.Page.NavigateOptions().setTimeout(120_000));
        List<Double> own = darkness();
        screenshot("heads-own-scale");
        page.navigate(app.url(path + "&scale=shared"), new com.microsoft.playwright.Page.NavigateOptions().setTimeout(120_000));
        List<Double> shared = darkness();
        screenshot("heads-shared-scale");
        assertEquals(shared.size(), own.size());
        int darker = 0;
        for (int i = 0; i < own.size(); i++) {
            assertTrue(own.get(i) >= shared.get(i) - 1e-6, "head " + i + " is lighter on its own scale: " + own + " vs " + shared);
            if (own.get(i) > 1.5 * shared.get(i)) darker++;
        }
        assertTrue(darker > 0, "no head is darker on its own scale: " + own + " vs " + shared);
        System.out.println("mean darkness of each head, own scale " + own + ", shared " + shared);
    }

    /** Mean darkness (255 − red) of each thumbnail's causal cells, in the grid's order. */
    @SuppressWarnings("unchecked")
    private List<Double> darkness() {
        assertThat(page.locator("#all-heads")).hasAttribute("data-rendered", Pattern.compile("\\d+"));
        List<Number> d = (List<Number>) page.locator("#all-heads .head-map canvas").evaluateAll("""
                cs => cs.map(c => { const n = c.width, p = c.getContext('2d').getImageData(0, 0, n, n).data; let s = 0, m = 0;
                  for (let q = 0; q < n; q++) for (let k = 0; k <= q; k++) { s += 255 - p[(q * n + k) * 4]; m++; } return s / m; })""");
        return d.stream().map(Number::doubleValue).toList();
    }

    @Test
    void aSharedColourScaleIsKeptInTheUrl() {
        String q = "text=" + enc(PROMPT);
        page.navigate(app.url(view("heads", q)));
        assertThat(page.locator("#heads-scale vaadin-radio-button[checked]")).hasText("per head");
        page.locator("#heads-scale vaadin-radio-button").filter(new com.microsoft.playwright.Locator.FilterOptions().setHasText("shared")).click();
        page.waitForURL(Pattern.compile(".*scale=shared.*"));
        assertThat(page.locator("#results")).containsText("all heads on one scale");
        // one scale: the pixel is the attention itself
        JsonNode att = get(app, api("attention", q + "&layer=1&head=2")).get("result").get("patterns").get(0);
        assertThat(page.locator("#all-heads .head-map")).hasCount(LoupeApp.MODEL_LAYERS * LoupeApp.MODEL_HEADS);
        assertEquals(shade(att.get(7).get(3).asDouble()), pixel(1, 2, 7, 3), 1.5);
        page.reload();
        assertThat(page.locator("#heads-scale vaadin-radio-button[checked]")).hasText("shared");
        assertEquals(shade(att.get(7).get(3).asDouble()), pixel(1, 2, 7, 3), 1.5);
    }

    @Test
    void valueWeightedPatternsAreAttentionTimesTheValueNorm() {
        String q = "text=" + enc(PROMPT);
        JsonNode plain = get(app, api("attention-heads", q)).get("result");
        JsonNode vw = get(app, api("attention-heads", q + "&weighted=true")).get("result");
        JsonNode norms = vw.get("valueNorms");
        int t = plain.get("tokens").size();
        for (int l = 0; l < LoupeApp.MODEL_LAYERS; l++)
            for (int h = 0; h < LoupeApp.MODEL_HEADS; h++)
                for (int qi = 0; qi < t; qi++)
                    for (int k = 0; k <= qi; k++) {
                        double a = plain.get("patterns").get(l).get(h).get(qi).get(k).asDouble();
                        double n = norms.get(l).get(h).get(k).asDouble();
                        assertEquals(a * n, vw.get("patterns").get(l).get(h).get(qi).get(k).asDouble(), 1e-5 * Math.max(1, n));
                    }
        page.navigate(app.url(view("heads", q + "&weighted=1")));
        assertThat(page.locator("#weighted input")).isChecked();
        assertThat(page.locator("#all-heads .head-map")).hasCount(LoupeApp.MODEL_LAYERS * LoupeApp.MODEL_HEADS);
    }
}
