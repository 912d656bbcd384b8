package dev.loupe.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.microsoft.playwright.Locator;
import com.microsoft.playwright.Page;
import com.microsoft.playwright.options.AriaRole;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.regex.Pattern;

import static com.microsoft.playwright.assertions.PlaywrightAssertions.assertThat;
import static dev.loupe.e2e.Explore.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every explorer view in Chromium, checked against the numbers of the REST API. */
class ExplorerViewsTest extends BrowserTest {

    /** Texts drawn in a chart's SVG (axis labels, cell labels, titles), once it has rendered. */
    private void open(String path) {
        page.navigate(app.url(path));
        page.waitForLoadState();
    }

    @Test
    void modelPageShowsConfigCardAndLinksToEveryView() {
        open("/model/" + LoupeApp.MODEL);
        Locator config = page.locator("#config");
        assertThat(config.locator("[data-key='d_model']")).hasText("64");
        assertThat(config.locator("[data-key='layers']")).hasText("2");
        assertThat(config.locator("[data-key='heads per layer']")).hasText("4");
        assertThat(config.locator("[data-key='context']")).hasText("128 tokens");
        assertThat(page.locator("#card")).containsText("Random weights (seed 1)");
        // every view of the navigation bar but the model page itself, the weights view among them
        List<String> listed = page.locator("#views a").all().stream().map(a -> a.getAttribute("data-view")).toList();
        assertEquals(List.of("prompt", "lens", "attention", "heads", "dla", "generate", "compare", "detectors", "patching", "circuits", "weights"), listed);
        assertThat(page.locator("#views a[data-view='weights']")).hasAttribute("href", "/model/" + LoupeApp.MODEL + "/weights");
        screenshot("explorer-model");
        page.locator("#views a[data-view='lens']").click();
        page.waitForURL(Pattern.compile(".*/model/" + LoupeApp.MODEL + "/lens\\?text=.*"));
        assertThat(page.locator("#lens-map")).isVisible();
    }

    @Test
    void homePageLinksToTheModelPage() {
        open("/");
        page.locator("vaadin-grid a[href='/model/" + LoupeApp.MODEL + "']").click();
        page.waitForURL(Pattern.compile(".*/model/" + LoupeApp.MODEL));
        assertThat(page.locator("#config [data-key='d_model']")).hasText("64");
    }

    /** The tokens and the loss text are written as markup: a prompt with markup characters shows as text. */
    @Test
    void promptWithMarkupCharactersShowsAsText() {
        String text = "Say \"<b>hi</b>\" & 'go'";
        JsonNode ps = get(app, api("prompt", "text=" + enc(text))).get("result").get("positions");
        open(view("prompt", "text=" + enc(text)));
        assertThat(page.locator("#tokens .token-chip")).hasCount(ps.size());
        assertThat(page.locator("#tokens b, #loss-text b")).hasCount(0);
        assertEquals("<|endoftext|>" + text, page.locator("#loss-text").textContent());
        Locator quote = page.locator("#loss-text .loss-token").filter(new Locator.FilterOptions().setHasText("\"<")).first();
        assertTrue(quote.getAttribute("title").startsWith("·\"<"), quote.getAttribute("title"));
        page.locator("#tokens .token-chip").nth(2).click();
        page.waitForURL(Pattern.compile(".*position=2.*"));
    }

    @Test
    void promptShowsTokensIdsLossesAndPredictions() {
        JsonNode ps = get(app, api("prompt", "text=" + enc("Hello world"))).get("result").get("positions");
        open(view("prompt", "text=" + enc("Hello world")));
        Locator chips = page.locator("#tokens .token-chip");
        assertThat(chips).hasCount(3);
        assertEquals(List.of("<|endoftext|>", "Hello", "·world"), page.locator("#tokens .token").allTextContents());
        assertEquals(List.of("50256", "15496", "995"), page.locator("#tokens .token-id").allTextContents());
        Locator lossTokens = page.locator("#loss-text .loss-token");
        assertThat(lossTokens).hasCount(3);
        assertThat(lossTokens.nth(2)).hasAttribute("data-loss", f3(ps.get(2).get("loss").asDouble()));
        assertThat(lossTokens.nth(2)).hasText(" world");
        // the grid lists every position with its loss and the top-10 next tokens
        String top = ps.get(2).get("next").get(0).get("token").asText();
        Locator grid = page.locator("vaadin-grid#predictions");
        assertThat(grid.locator("vaadin-grid-cell-content", new Locator.LocatorOptions().setHasText(f3(ps.get(1).get("loss").asDouble()))).first()).isVisible();
        assertThat(grid.locator("vaadin-grid-cell-content", new Locator.LocatorOptions().setHasText(top)).first()).isAttached();
        assertTrue(chartTexts("#next-bars").contains(top), "bars show the top prediction " + top);
        screenshot("explorer-prompt");

        // clicking a token selects its position, in the URL too
        chips.nth(1).click();
        page.waitForURL(Pattern.compile(".*position=1.*"));
        String top1 = ps.get(1).get("next").get(0).get("token").asText();
        assertThat(page.locator("#next-bars")).hasAttribute("data-rendered", Pattern.compile("\\d+"));
        page.waitForCondition(() -> page.locator("#next-bars svg text").allTextContents().contains(top1));
    }

    @Test
    void logitLensShowsTopTokensAndAChosenTokensProbability() {
        JsonNode r = get(app, api("logit-lens", "text=" + enc(PROMPT))).get("result");
        int t = r.get("tokens").size();
        open(view("lens", "text=" + enc(PROMPT)));
        List<String> texts = chartTexts("#lens-map");
        String outTop = r.get("cells").get(LoupeApp.MODEL_LAYERS).get(t - 1).get("top").get(0).get("token").asText();
        String shown = outTop.length() > 9 ? outTop.substring(0, 8) + "…" : outTop;
        assertTrue(texts.contains(shown), "cell text " + shown + " in " + texts);
        assertTrue(texts.contains("output") && texts.contains("L0 resid_pre") && texts.contains("L1 resid_pre"), texts.toString());
        assertTrue(texts.contains((t - 1) + " ·the"), "position labels carry tokens: " + texts);
        assertThat(page.locator("#lens-summary")).containsText(outTop);

        // hovering a cell shows the top 5
        var box = page.locator("#lens-map").boundingBox();
        page.mouse().move(box.x + 120 + (box.width - 140) * 0.5, box.y + 12 + (box.height - 122) * 0.5);
        assertThat(page.locator("#lens-map").getByText("top 5:").first()).isVisible();
        screenshot("explorer-lens");

        // switch to the probability of a chosen token
        page.getByText("Probability of a token").click();
        page.locator("#lens-token input").fill("·cat");
        page.locator("#run").click();
        page.waitForURL(Pattern.compile(".*token=.*"));
        JsonNode chosen = get(app, api("logit-lens", "text=" + enc(PROMPT) + "&token=" + enc("·cat"))).get("result");
        assertEquals(" cat", chosen.get("target").get("text").asText());
        assertThat(page.locator("#results")).containsText("Probability of ·cat (id 3797)");
        page.waitForCondition(() -> page.locator("#lens-map svg text").allTextContents().stream().anyMatch(s -> s.endsWith("%")));
        screenshot("explorer-lens-token");
    }

    @Test
    void attentionShowsAHeadTheLayersHeadsAndHoverSummaries() {
        JsonNode r = get(app, api("attention", "text=" + enc(PROMPT) + "&layer=1&head=2")).get("result");
        JsonNode p = r.get("patterns").get(0);
        open(view("attention", "text=" + enc(PROMPT) + "&layer=1&head=2"));
        assertThat(page.locator("#results h3").first()).hasText("Head 1.2");
        List<String> texts = chartTexts("#pattern");
        assertTrue(texts.contains("1 The") && texts.contains("2 ·cat"), texts.toString());
        assertThat(page.locator("#head-grid .head-map")).hasCount(LoupeApp.MODEL_HEADS);

        // hover the 4th token: where it attends most, as the API says
        int q = 3, best = 0;
        for (int k = 0; k <= q; k++) if (p.get(q).get(k).asDouble() > p.get(q).get(best).asDouble()) best = k;
        page.locator("#token-attention .attends-to .tok").nth(q).hover();
        String tok = r.get("tokens").get(best).get("token").asText();
        assertThat(page.locator("#token-attention .attention-summary"))
                .containsText("attends most to “" + tok + "” (position " + best + ", " + f3(p.get(q).get(best).asDouble()) + ")");
        screenshot("explorer-attention");

        // clicking a head of the grid selects it
        page.locator("#head-grid .head-map[data-head='3']").click();
        page.waitForURL(Pattern.compile(".*head=3.*"));
        assertThat(page.locator("#results h3").first()).hasText("Head 1.3");
    }

    @Test
    void dlaShowsHeadsMlpsAndATotalEqualToTheLogitDifference() {
        String q = "text=" + enc(PROMPT) + "&a=" + enc("·mat") + "&b=" + enc("·cat");
        JsonNode r = get(app, api("dla", q)).get("result");
        open(view("dla", q));
        assertThat(page.locator("#dla-total")).containsText("Sum of contributions: " + f4(r.get("total").asDouble()));
        assertThat(page.locator("#dla-total")).containsText("logit(·mat) − logit(·cat): " + f4(r.get("logitDiff").asDouble()));
        assertEquals(f4(r.get("total").asDouble()), f4(r.get("logitDiff").asDouble()));
        List<String> heat = chartTexts("#dla-heads");
        assertTrue(heat.contains(f2(r.get("heads").get(1).get(3).asDouble())), heat.toString());
        assertTrue(heat.contains("L1") && heat.contains("H3"), heat.toString());
        List<String> bars = chartTexts("#dla-bars");
        assertTrue(bars.contains("MLP 0") && bars.contains("MLP 1") && bars.contains("token embedding"), bars.toString());
        screenshot("explorer-dla");

        // another position from the selector
        page.locator("#position").click();
        page.getByRole(AriaRole.OPTION, new Page.GetByRoleOptions().setName("3: ·sat")).click();
        page.locator("#run").click();
        page.waitForURL(Pattern.compile(".*position=3.*"));
        JsonNode r3 = get(app, api("dla", "text=" + enc(PROMPT) + "&position=3&a=" + enc("·mat") + "&b=" + enc("·cat"))).get("result");
        assertThat(page.locator("#dla-total")).containsText(f4(r3.get("logitDiff").asDouble()));
    }

    @Test
    void detectorsShowThreeLayerByHeadHeatmaps() {
        JsonNode r = get(app, api("detectors", "length=20&batch=2&seed=3")).get("result");
        open(view("detectors", "length=20&batch=2&seed=3"));
        List<String> ind = chartTexts("#detector-induction");
        assertTrue(ind.contains("induction score"), ind.toString());
        assertTrue(ind.contains(f2(r.get("induction").get(1).get(2).asDouble())), ind.toString());
        List<String> prev = chartTexts("#detector-previous-token");
        assertTrue(prev.contains(f2(r.get("previousToken").get(0).get(1).asDouble())), prev.toString());
        assertTrue(chartTexts("#detector-duplicate-token").contains("duplicate-token score"));
        assertThat(page.locator("#length input")).hasValue("20");
        screenshot("explorer-detectors");
    }
}
