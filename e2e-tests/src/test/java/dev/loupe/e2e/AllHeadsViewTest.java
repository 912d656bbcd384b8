package dev.loupe.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.util.regex.Pattern;

import static com.microsoft.playwright.assertions.PlaywrightAssertions.assertThat;
import static dev.loupe.e2e.Explore.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

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

        // the thumbnail's pixels are the API's pattern: query 5, key 2 of head 0.3, one byte per cell
        JsonNode att = get(app, api("attention", q + "&layer=0&head=3")).get("result").get("patterns").get(0);
        Object pixel = page.locator("#all-heads .head-map[data-layer='0'][data-head='3'] canvas").evaluate(
                "c => c.getContext('2d').getImageData(2, 5, 1, 1).data[0]");
        double a = att.get(5).get(2).asDouble();
        assertEquals(255 - Math.round(a * 255) * (255 - 8) / 255.0, ((Number) pixel).doubleValue(), 1.5);
        screenshot("explorer-all-heads");
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
