package dev.loupe.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.microsoft.playwright.Locator;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

import static com.microsoft.playwright.assertions.PlaywrightAssertions.assertThat;
import static dev.loupe.e2e.Explore.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a new user tripped on in the explorer: each case opens the page as they did and checks what they should see. */
class ExplorerDefectsTest extends BrowserTest {

    private void open(String path) {
        page.navigate(app.url(path));
        page.waitForLoadState();
    }

    @Test
    void navigationCarriesThePromptJustRun() {
        open(view("prompt", "text=" + enc("Hello world")));
        page.locator("#prompt textarea").fill("The dog ran");
        page.locator("#run").click();
        page.waitForURL(Pattern.compile(".*text=The(%20|\\+)dog.*"));
        for (String v : List.of("lens", "attention", "dla")) {
            page.locator("#explorer-nav a[data-view='" + v + "']").click();
            page.waitForURL(Pattern.compile(".*/" + v + "\\?.*"));
            assertThat(page.locator("#prompt textarea")).hasValue("The dog ran");
        }
    }

    @Test
    void theViewLinksFitOneRowAt1400PxAndWrapOnlyBetweenLinks() {
        // the longest heading of the explorer, beside which the links once wrapped to three lines
        open(view("dla", "text=" + enc("Hello world")));
        Locator links = page.locator("#explorer-nav a");
        assertThat(links.first()).isVisible();
        String rows = "as => new Set(as.map(a => Math.round(a.getBoundingClientRect().top))).size";
        // a link whose words wrap is taller than the others
        String brokenLinks = "as => { const h = as.map(a => a.getBoundingClientRect().height); return as.filter((a, i) => h[i] > 1.4 * Math.min(...h)).map(a => a.textContent); }";
        assertEquals(1, ((Number) links.evaluateAll(rows)).intValue(), "the view links take more than one row at 1400 px");
        assertEquals(List.of(), links.evaluateAll(brokenLinks));
        page.setViewportSize(900, 900);
        page.waitForFunction("() => document.querySelector('#explorer-nav').getBoundingClientRect().width < 900");
        assertTrue(((Number) links.evaluateAll(rows)).intValue() > 1, "at 900 px the links wrap");
        assertEquals(List.of(), links.evaluateAll(brokenLinks), "a link is broken over lines at 900 px");
    }

    @Test
    void logitLensFollowsATokenOnALogScaleWithItsRank() {
        String q = "text=" + enc(PROMPT) + "&token=" + enc("·cat");
        JsonNode r = get(app, api("logit-lens", q)).get("result");
        open(view("lens", q));
        assertThat(page.locator("#lens-scale vaadin-radio-button[checked]")).hasText("log");
        List<String> texts = chartTexts("#lens-map");
        // every cell names the token's rank; the legend spans orders of magnitude
        JsonNode cell = r.get("cells").get(0).get(3);
        assertTrue(texts.contains("#" + cell.get("targetRank").asInt()), texts.toString());
        assertTrue(texts.contains("100%") && texts.contains("0.0001%"), texts.toString());
        double shown = ((Number) chart("#lens-map", "c => c.getOption().series[0].data.map(d => d.value || d).find(d => d[0] === 3 && d[1] === 0)[2]")).doubleValue();
        assertEquals(Math.log10(cell.get("target").asDouble()), shown, 1e-4);
    }

    @Test
    void aLongLensOpenedByNavigationFillsInItsEarlyPositions() {
        // by a link of the navigation bar: the view is built before it is attached to the page
        String text = LongPromptTest.prompt(60);
        open(view("prompt", "text=" + enc(text)));
        page.locator("#explorer-nav a[data-view='lens']").click();
        page.waitForURL(Pattern.compile(".*/lens\\?.*"));
        assertLensComplete(text, 60);
        // by its address, the first page of a session
        String other = LongPromptTest.prompt(70);
        open(view("lens", "text=" + enc(other)));
        assertLensComplete(other, 70);
    }

    /** The lens of a prompt longer than its zoom window shows every position, each cell the API's. */
    private void assertLensComplete(String text, int tokens) {
        assertThat(page.locator("#lens-map")).hasAttribute("data-complete", "true");
        assertThat(page.locator("#lens-rest")).isHidden();
        // asked after the page: the page's own computation is what filled the cells
        JsonNode r = get(app, api("logit-lens", "text=" + enc(text))).get("result");
        int rows = r.get("layers").size();
        assertEquals(rows * tokens, ((Number) chart("#lens-map", "c => c.getOption().series[0].data.length")).intValue());
        for (int p : new int[]{0, 1, tokens - 1}) {
            double shown = ((Number) chart("#lens-map", "c => c.getOption().series[0].data.map(d => d.value || d).find(d => d[0] === "
                    + p + " && d[1] === 0)[2]")).doubleValue();
            assertEquals(r.get("cells").get(0).get(p).get("top").get(0).get("prob").asDouble(), shown, 1e-5, "position " + p);
        }
    }

    /** Cell labels of a heatmap inside its grid wider than a cell: {cell width, labels, too wide}. */
    static final String LABELS_WIDER_THAN_CELLS = """
            c => {
              const w = Math.abs(c.convertToPixel({xAxisIndex: 0}, 1) - c.convertToPixel({xAxisIndex: 0}, 0));
              const g = c.getModel().getComponent('grid', 0).coordinateSystem.getRect();
              const box = c.getDom().getBoundingClientRect();
              const inGrid = [...c.getDom().querySelectorAll('svg text')].map(t => ({ t: t.textContent, r: t.getBoundingClientRect() }))
                .filter(o => { const x = o.r.left + o.r.width / 2 - box.left, y = o.r.top + o.r.height / 2 - box.top;
                  return x > g.x && x < g.x + g.width && y > g.y && y < g.y + g.height; });
              return { cell: w, labels: inGrid.length, wide: inGrid.filter(o => o.r.width > w).map(o => o.t + ' ' + o.r.width) };
            }""";

    @Test
    void lensLabelsFitTheirCellsAndByteTokensReadAsCharactersAtFullContext() {
        page.setViewportSize(1280, 1000);
        // a character GPT-2 writes as byte tokens, at the end of a prompt that fills the context
        String suffix = " \u9451";
        JsonNode pieces = get(app, api("tokenize", "text=" + enc(suffix)));
        int k = pieces.get("ids").size() - 1;
        assertTrue(pieces.get("tokens").toString().contains("\\\\x"), "the character is split into byte tokens: " + pieces);
        String text = LongPromptTest.prompt(LoupeApp.MODEL_CONTEXT - k) + suffix;
        assertEquals(LoupeApp.MODEL_CONTEXT, get(app, api("tokenize", "text=" + enc(text))).get("ids").size());
        open(view("lens", "text=" + enc(text)));
        assertThat(page.locator("#lens-map")).hasAttribute("data-complete", "true");
        @SuppressWarnings("unchecked")
        List<String> x = (List<String>) chart("#lens-map", "c => c.getOption().xAxis[0].data");
        int last = LoupeApp.MODEL_CONTEXT - 1;
        // the last piece of the character: the character and which piece
        assertTrue(x.get(last).matches(last + " \u9451\\(([2-4])/\\1\\)"), x.subList(last - k, last + 1).toString());
        assertFalse(x.stream().anyMatch(l -> l.contains("\\x")), x.toString());
        String spec = page.locator("#lens-map").evaluate("e => e.spec").toString();
        assertFalse(spec.contains("\\\\x"), "a \\x escape in the lens");

        // the window over the last 40 positions, then every position
        @SuppressWarnings("unchecked")
        var fit = (java.util.Map<String, Object>) chart("#lens-map", LABELS_WIDER_THAN_CELLS);
        assertTrue(((Number) fit.get("labels")).intValue() >= 40, fit.toString());
        assertEquals(List.of(), fit.get("wide"), "labels wider than their cell (" + fit.get("cell") + " px)");
        screenshot("lens-full-context");
        page.locator("#lens-map").evaluate("e => e.chart.dispatchAction({ type: 'dataZoom', start: 0, end: 100 })");
        page.waitForFunction("() => document.querySelector('#lens-map').chart.getOption().series[0].label.width < 20");
        @SuppressWarnings("unchecked")
        var all = (java.util.Map<String, Object>) chart("#lens-map", LABELS_WIDER_THAN_CELLS);
        assertEquals(List.of(), all.get("wide"), "labels wider than their cell (" + all.get("cell") + " px)");
    }

    @Test
    void compareBarsShowEachPromptFromItsStartAndWholeInTheTooltip() {
        page.setViewportSize(1280, 1000);
        String longOne = "When Mary and John went to the store on a rainy afternoon in the middle of the week, John gave a drink to";
        String shortOne = "The cat sat on the";
        open(view("compare", "metric=loss&prompts=" + enc(longOne + "\n" + shortOne)));
        List<String> texts = chartTexts("#compare-bars");
        String cut = texts.stream().filter(t -> t.startsWith("1. When Mary and John")).findFirst()
                .orElseThrow(() -> new AssertionError("no label with the prompt's start: " + texts));
        assertTrue(cut.endsWith("…") && cut.length() < longOne.length(), cut);
        assertTrue(texts.contains("2. " + shortOne), texts.toString());
        // no label runs out of the chart on the left
        page.locator("#compare-bars").scrollIntoViewIfNeeded();
        @SuppressWarnings("unchecked")
        List<Number> lefts = (List<Number>) page.locator("#compare-bars").evaluate(
                "e => [Math.min(...[...e.querySelectorAll('svg text')].map(t => t.getBoundingClientRect().left)), e.getBoundingClientRect().left]");
        assertTrue(lefts.get(0).doubleValue() >= lefts.get(1).doubleValue() - 0.5, "a label starts left of the chart: " + lefts);
        // the first bar's tooltip: the whole prompt
        @SuppressWarnings("unchecked")
        List<Number> at = (List<Number>) chart("#compare-bars", """
                c => { const b = c.getDom().getBoundingClientRect(), g = c.getModel().getComponent('grid', 0).coordinateSystem.getRect();
                       return [b.left + g.x + g.width / 2, b.top + c.convertToPixel({ yAxisIndex: 0 }, 0)]; }""");
        page.mouse().move(at.get(0).doubleValue(), at.get(1).doubleValue());
        assertThat(page.locator("#compare-bars .bar-tip")).containsText("1. " + longOne);
        screenshot("compare-long-prompt");
    }

    @Test
    void theAttentionPatternStartsInAThousandPixelWindowAtFullContext() {
        page.setViewportSize(1280, 1000);
        // brown-6l's whole context: the longest token strip and prompt box the view can have
        open("/model/" + LongPromptTest.MODEL + "/attention?text=" + enc(LongPromptTest.prompt(256)) + "&layer=3&head=1");
        @SuppressWarnings("unchecked")
        List<Number> top = (List<Number>) chart("#pattern", """
                c => { const b = c.getDom().getBoundingClientRect(), g = c.getModel().getComponent('grid', 0).coordinateSystem.getRect();
                       return [b.top + g.y, window.innerHeight, window.scrollY]; }""");
        assertEquals(0, top.get(2).intValue(), "the page opens at its top");
        assertTrue(top.get(0).doubleValue() + 100 <= top.get(1).doubleValue(),
                "the pattern's first row is at " + top.get(0) + " px in a " + top.get(1) + " px window");
        screenshot("attention-full-context");
    }

    @Test
    void promptViewShowsByteTokensAsTheCharacterTheyForm() {
        page.setViewportSize(1280, 1000);
        String text = LongPromptTest.prompt(LoupeApp.MODEL_CONTEXT - 8) + " \u9451 and \u00e9";
        JsonNode ids = get(app, api("tokenize", "text=" + enc(text)));
        assertTrue(ids.get("tokens").toString().contains("\\\\x"), "the prompt has byte tokens: " + ids.get("tokens"));
        open(view("prompt", "text=" + enc(text)));
        Locator chips = page.locator("#tokens .token-chip .token");
        assertThat(chips).hasCount(ids.get("ids").size());
        List<String> shown = chips.allTextContents();
        assertFalse(shown.stream().anyMatch(t -> t.contains("\\x")), shown.toString());
        assertTrue(shown.stream().anyMatch(t -> t.matches(".*\u9451\\(\\d/\\d\\)")), shown.toString());
        // the grid's token column and the text under the losses read the same
        assertThat(page.locator("vaadin-grid#predictions")).containsText("\u9451(");
        assertThat(page.locator("#loss-text")).containsText("on \u9451(1/");
        assertFalse(page.locator("#loss-text").innerText().contains("\\x"), page.locator("#loss-text").innerText());
        screenshot("prompt-full-context");
    }

    @Test
    void modelCardIsRenderedMarkdownWithItsLossCurve() throws Exception {
        open("/model/brown-6l");
        Locator card = page.locator("#card");
        assertThat(card.locator("h2").first()).isVisible();
        assertThat(card.locator("table").first()).isVisible();
        assertFalse(card.innerText().contains("## "), "no raw Markdown");
        List<String> rows = Files.readAllLines(Path.of(System.getProperty("loupe.models.source"), "brown-6l", "eval.csv"));
        String[] last = rows.get(rows.size() - 1).split(",");
        Object n = chart("#eval-chart", "c => c.getOption().series[0].data.length");
        assertEquals(rows.size() - 1, ((Number) n).intValue());
        Object lastPoint = chart("#eval-chart", "c => { const d = c.getOption().series[0].data; return d[d.length - 1].join(','); }");
        assertEquals(Long.parseLong(last[0]) + "," + Double.parseDouble(last[2]), lastPoint.toString().replaceAll("\\.0(,|$)", "$1"));
        screenshot("explorer-model-card");
    }

    @Test
    void promptTopTenIsNotCutAndBarsShowPercentages() {
        JsonNode ps = get(app, api("prompt", "text=" + enc("Hello world"))).get("result").get("positions");
        open(view("prompt", "text=" + enc("Hello world")));
        Locator top = page.locator("#predictions .top-next").first();
        assertThat(top).isVisible();
        assertTrue((Boolean) top.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "the top-10 list is cut off");
        double p0 = ps.get(2).get("next").get(0).get("prob").asDouble();
        List<String> bars = chartTexts("#next-bars");
        String pct = String.format(java.util.Locale.ROOT, p0 >= 0.0995 ? "%.0f%%" : "%.1f%%", p0 * 100);
        assertTrue(bars.contains(pct), pct + " in " + bars);
    }

    @Test
    void dlaLabelsFitNumbersAreReadableAndPositionIsOneName() {
        String q = "text=" + enc(PROMPT) + "&a=" + enc("·mat") + "&b=" + enc("·cat");
        open(view("dla", q + "&position=3"));
        assertThat(page.locator("#position")).hasText(Pattern.compile("3: ·sat"));
        JsonNode r3 = get(app, api("dla", q + "&position=3")).get("result");
        assertThat(page.locator("#dla-total")).containsText(f4(r3.get("logitDiff").asDouble()));
        for (String id : List.of("token-a", "token-b")) {
            Locator label = page.locator("#" + id + " label");
            assertTrue((Boolean) label.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), id + " label is cut: " + label.innerText());
        }
        // the darkest cell's number has at least WCAG AA contrast against the cell
        double max = 0;
        for (JsonNode l : r3.get("heads")) for (JsonNode h : l) max = Math.max(max, Math.abs(h.asDouble()));
        Object ratio = chart("#dla-heads", """
                c => {
                  const o = c.getOption(), s = o.series[0], vm = o.visualMap[0];
                  const lum = (hex) => { const v = [1, 3, 5].map(i => parseInt(hex.slice(i, i + 2), 16) / 255)
                      .map(x => x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4));
                    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
                  let worst = 99;
                  for (const d of s.data) {
                    const v = d.value ? d.value[2] : d[2];
                    if (Math.abs(v) < 0.9 * vm.max) continue;
                    const cell = v > 0 ? vm.inRange.color[vm.inRange.color.length - 1] : vm.inRange.color[0];
                    const text = (d.label && d.label.color) || s.label.color;
                    const [a, b] = [lum(cell), lum(text)].sort((x, y) => y - x);
                    worst = Math.min(worst, (a + 0.05) / (b + 0.05));
                  }
                  return worst;
                }""");
        assertTrue(((Number) ratio).doubleValue() >= 4.5, "contrast " + ratio + " on the darkest cells (max |v| " + max + ")");
        // the old name still opens the same position, and the page writes the one name back
        open(view("dla", q + "&pos=3"));
        assertThat(page.locator("#position")).hasText(Pattern.compile("3: ·sat"));
        page.locator("#run").click();
        page.waitForURL(Pattern.compile(".*[?&]position=3.*"));
        assertFalse(page.url().contains("pos=3&") || page.url().endsWith("pos=3"), page.url());
    }

    @Test
    void lensAndDetectorFieldsShowTheirWholeLabelsAndChoice() {
        String cut = "es => es.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)";
        open(view("lens", "text=" + enc("Hello world")));
        assertThat(page.locator("#lens-stream label[slot=label]")).isVisible();
        assertEquals(List.of(), page.locator("#lens-stream label[slot=label], #lens-token label[slot=label], #lens-stream vaadin-select-value-button").evaluateAll(cut));
        open(view("detectors", "length=8&batch=1"));
        assertThat(page.locator("#length label[slot=label]")).isVisible();
        assertEquals(List.of(), page.locator("#length label[slot=label], #batch label[slot=label], #seed label[slot=label]").evaluateAll(cut));
    }

    @Test
    void anInvalidLayerKeepsTheForm() {
        open(view("attention", "text=hi&layer=9"));
        assertThat(page.locator("#error")).containsText("layer 9 is out of range");
        assertThat(page.locator("#prompt textarea")).hasValue("hi");
        assertThat(page.locator("#layer")).isVisible();
    }

    @Test
    void anUnknownRouteIsA404PageInsideTheLayout() {
        assertEquals(404, app.get("/no/such/page").statusCode());
        expectHttpError("/no/such/page");
        open("/no/such/page");
        assertThat(page.locator("vaadin-app-layout a[href='/']").first()).hasText("Loupe");
        assertThat(page.locator("#not-found")).containsText("no page at /no/such/page");
        assertThat(page.locator("#not-found a[href='/']")).isVisible();
    }

    @Test
    void listVocabularyModelsAreDescribedAsTheyAre() {
        String m = "/model/modadd-113";
        page.navigate(app.url(m + "/prompt?text=" + enc("57 12 =")));
        // words of a list vocabulary are separated by spaces; no BOS; only the answer after '=' is scored
        assertThat(page.locator("#loss-text")).hasText("57 12 =");
        assertThat(page.locator("#prompt label")).hasText(Pattern.compile("no BOS token"));
        assertFalse(page.locator("#prompt label").innerText().contains("TransformerLens"));
        assertThat(page.locator("#loss-text .loss-token.unscored")).hasCount(3);
        assertThat(page.locator("#results")).containsText("not scored");
        assertFalse(page.locator("#results").innerText().contains("mean loss 1"), "no mean over unscored positions");

        page.navigate(app.url(m + "/prompt?text=" + enc("57 12 = 3")));
        assertThat(page.locator("#error")).hasText(Pattern.compile("the prompt is 4 tokens long, more than the context of modadd-113 \\(3 tokens\\)"));
        page.navigate(app.url(m + "/prompt?text=" + enc("57 x")));
        assertThat(page.locator("#error")).containsText("the vocabulary is 114 words: 0, 1, 2, …, 112, =");
        page.navigate(app.url(m + "/detectors"));
        assertThat(page.locator("#error")).containsText("the context of 3 tokens is too short for the head detectors");
        assertFalse(page.locator("#error").innerText().contains("2–1"));
    }

    @Test
    void detectorsShowTheChanceLevelAndWhatTheScoresMean() {
        JsonNode r = get(app, api("detectors", "length=20&batch=1&seed=3")).get("result");
        // uniform causal attention over BOS + 20 tokens twice: from query q each key gets 1/(q+1)
        int t = 41;
        double prev = 0;
        for (int q = 1; q < t; q++) prev += 1.0 / (q + 1);
        prev /= t - 1;
        double ind = 0;
        for (int q = 21; q < t; q++) ind += 1.0 / (q + 1);
        ind /= 20;
        assertEquals(prev, r.get("chance").get("previousToken").asDouble(), 1e-6);
        assertEquals(ind, r.get("chance").get("induction").asDouble(), 1e-6);
        assertEquals(ind, r.get("chance").get("duplicateToken").asDouble(), 1e-6);
        open(view("detectors", "length=20&batch=1&seed=3"));
        assertThat(page.locator("#detectors-chance")).containsText("previous-token " + f2(prev));
        assertThat(page.locator("#detectors-chance")).containsText("induction " + f2(ind));
        assertThat(page.locator("#detectors-explained")).containsText("uniform");
    }

    @Test
    void homePageDescribesEachModelWithItsContextAndNoServerPath() {
        open("/");
        String text = page.locator("body").innerText();
        assertFalse(text.contains(app.modelsDir().toString()), "server path shown");
        assertThat(page.locator("vaadin-grid-cell-content").filter(new Locator.FilterOptions().setHasText("learned modular addition")).first()).isVisible();
        Locator header = page.locator("vaadin-grid-cell-content").filter(new Locator.FilterOptions().setHasText(Pattern.compile("^Context$")));
        assertThat(header.first()).isAttached();
        assertThat(page.locator("vaadin-grid-cell-content").filter(new Locator.FilterOptions().setHasText(Pattern.compile("^256$"))).first()).isAttached();
    }
}
