package dev.loupe.e2e;

import com.microsoft.playwright.Browser;
import com.microsoft.playwright.BrowserContext;
import com.microsoft.playwright.BrowserType;
import com.microsoft.playwright.Locator;
import com.microsoft.playwright.Page;
import com.microsoft.playwright.Playwright;
import com.microsoft.playwright.assertions.PlaywrightAssertions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Base of the browser tests: Debian's Chromium driven by Playwright against the packaged app. A test fails
 * when the page logs a JavaScript error to the console.
 */
public abstract class BrowserTest {
    protected static final LoupeApp app = LoupeApp.get();
    private static Playwright playwright;
    private static Browser browser;

    protected BrowserContext context;
    protected Page page;
    private final List<String> consoleErrors = new ArrayList<>();
    /** Addresses a test expects to answer with an HTTP error (e.g. a 404 page); they are not counted as errors. */
    private final List<String> expectedHttpErrors = new ArrayList<>();

    @BeforeAll
    static void launchBrowser() {
        // a shared, loaded machine can take several seconds to boot a page; assertions wait for it
        PlaywrightAssertions.setDefaultAssertionTimeout(20_000);
        playwright = Playwright.create(new Playwright.CreateOptions()
                .setEnv(Map.of("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")));
        browser = playwright.chromium().launch(new BrowserType.LaunchOptions()
                .setExecutablePath(Path.of(System.getProperty("loupe.chromium", "/usr/bin/chromium")))
                .setHeadless(true)
                .setArgs(List.of("--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic")));
    }

    @AfterAll
    static void closeBrowser() {
        if (browser != null) browser.close();
        if (playwright != null) playwright.close();
    }

    /**
     * Vaadin's React-router integration throws "Invalid blocker state transition: unblocked -> proceeding" when a
     * navigation starts while the server is still answering the previous one (vaadin/flow#20404): the router's own
     * bookkeeping, with no effect on the page. A test that reloads right after the URL changed can meet it.
     */
    static boolean isKnownRouterRace(String message) {
        return message.contains("Invalid blocker state transition: unblocked -> proceeding");
    }

    @BeforeEach
    void openPage() {
        context = browser.newContext(new Browser.NewContextOptions().setViewportSize(1400, 900));
        page = context.newPage();
        page.onConsoleMessage(m -> {
            // the browser's own line for an expected error status
            if ("error".equals(m.type()) && !isKnownRouterRace(m.text())
                    && !(m.text().startsWith("Failed to load resource") && expectedHttpErrors.stream().anyMatch(m.location()::contains)))
                consoleErrors.add(m.text() + " (" + m.location() + ")");
        });
        page.onPageError(e -> {
            if (!isKnownRouterRace(String.valueOf(e))) consoleErrors.add("page error: " + e);
        });
        // the console says only "Failed to load resource"; keep the address so a failure names it
        page.onResponse(r -> {
            if (r.status() >= 400 && expectedHttpErrors.stream().noneMatch(r.url()::endsWith)) consoleErrors.add("HTTP " + r.status() + " " + r.url());
        });
    }

    @AfterEach
    void checkConsole() {
        context.close();
        assertTrue(consoleErrors.isEmpty(), "JavaScript console errors: " + consoleErrors);
    }

    /** Lets the page load an address ending with {@code suffix} with an error status without failing the test. */
    protected void expectHttpError(String suffix) { expectedHttpErrors.add(suffix); }

    /** Evaluates {@code js} (a function of the chart's ECharts instance, e.g. {@code c => c.getOption().series.length}) on a rendered chart. */
    protected Object chart(String selector, String js) {
        Locator el = page.locator(selector).first();
        PlaywrightAssertions.assertThat(el).hasAttribute("data-rendered", java.util.regex.Pattern.compile("\\d+"),
                new com.microsoft.playwright.assertions.LocatorAssertions.HasAttributeOptions().setTimeout(30_000));
        return el.evaluate("(e) => (" + js + ")(e.chart)");
    }

    /**
     * The text of a chart's SVG (axis labels, cell labels, legend) once it is drawn, and after two more frames, so a
     * redrawing at the chart's final size (the layout settling) is what is read.
     */
    protected List<String> chartTexts(String selector) {
        chart(selector, "c => 0");
        twoFrames(page);
        return page.locator(selector).first().locator("svg text").allTextContents();
    }

    /** Waits two animation frames of {@code p}: what the layout settling observes and draws is done. */
    protected static void twoFrames(Page p) {
        p.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))");
    }

    /** Saves a full-page screenshot as e2e-tests/target/screenshots/NAME.png. */
    protected Path screenshot(String name) {
        Path file = Path.of(System.getProperty("loupe.screenshots", "target/screenshots")).resolve(name + ".png");
        try {
            Files.createDirectories(file.getParent());
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
        page.screenshot(new Page.ScreenshotOptions().setPath(file).setFullPage(true));
        return file;
    }
}
