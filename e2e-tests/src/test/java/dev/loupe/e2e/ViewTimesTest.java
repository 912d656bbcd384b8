package dev.loupe.e2e;

import com.microsoft.playwright.Page;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.loupe.e2e.Explore.enc;
import static dev.loupe.e2e.LongPromptTest.prompt;

/**
 * Time of every explorer view on the default model (brown-6l-v8) at its full context (256 tokens), in Chromium, from
 * navigation until every chart of the results is drawn and the page answers the next frame; first visit (computed)
 * and again (cached). Reports, does not assert (the numbers depend on the machine): a table on stdout and in
 * target/view-times.md with the server's part (until the first byte of the page), the page's size and the
 * machine's load average. Opt-in (it takes minutes and asserts nothing): runs only with {@code -Dloupe.viewtimes=true}.
 */
@EnabledIfSystemProperty(named = "loupe.viewtimes", matches = "true")
class ViewTimesTest extends BrowserTest {
    static final String MODEL = "brown-6l-v8";

    /** One measurement, in milliseconds from navigation start (the page's own clock) and bytes. */
    record Time(long total, long server, long bytes) {}

    private static String path(String view, String query) { return "/model/" + MODEL + "/" + view + (query.isEmpty() ? "" : "?" + query); }

    /**
     * Navigates and waits until every chart in the view's results is drawn, then for the next animation frame (the page
     * is free). The model page has no #results: its parts are #views and the card with its loss chart.
     */
    private Time time(String path) {
        page.navigate(app.url(path), new Page.NavigateOptions().setTimeout(120_000));
        return measured(path.endsWith("/" + MODEL + "/") ? "#views" : "#results");
    }

    private Time measured(String root) {
        String charts = String.join(", ", List.of("loupe-heatmap", "loupe-bars", "loupe-lines", "loupe-series", "loupe-head-grid"));
        page.waitForFunction("root => document.querySelector(root) && !document.querySelector('#results vaadin-progress-bar:not([hidden])')"
                        + " && [...document.querySelectorAll('" + charts + "')].every(e => e.dataset.rendered)",
                root, new Page.WaitForFunctionOptions().setTimeout(120_000).setPollingInterval(10));
        @SuppressWarnings("unchecked")
        Map<String, Object> t = (Map<String, Object>) page.evaluate("() => new Promise(done => requestAnimationFrame(() => setTimeout(() => {"
                + " const n = performance.getEntriesByType('navigation')[0];"
                + " done({ total: performance.now(), server: n.responseStart, bytes: n.transferSize }); }, 0)))");
        return new Time(num(t.get("total")), num(t.get("server")), num(t.get("bytes")));
    }

    /** First and cached time of a view; a view that fails is reported as -1 (the table is the point, not one view). */
    private static Time[] measure(String name, java.util.function.Supplier<Time> once) {
        Time[] t = new Time[2];
        for (int i = 0; i < 2; i++) {
            try {
                t[i] = once.get();
            } catch (RuntimeException e) {
                System.out.println("view " + name + " failed: " + e.getMessage().lines().findFirst().orElse(""));
                t[i] = new Time(-1, -1, -1);
            }
        }
        System.out.println("view time " + name + ": " + t[0] + " / " + t[1]);
        return t;
    }

    private static long num(Object o) { return Math.round(((Number) o).doubleValue()); }

    @Test
    void everyViewAtFullContext() throws Exception {
        String text = prompt(256), q = "text=" + enc(text);
        // the model loaded before the clock starts (its load is not a view's time)
        Explore.get(app, "/api/v1/models/" + MODEL + "/tokenize?text=" + enc("warm"));
        Map<String, String> views = new LinkedHashMap<>();
        views.put("model page", path("", ""));
        views.put("prompt", path("prompt", q));
        views.put("logit lens", path("lens", q));
        views.put("logit lens, probability of a token", path("lens", q + "&token=" + enc("·the")));
        views.put("logit lens, every stream", path("lens", q + "&stream=all"));
        views.put("attention (L3 H1)", path("attention", q + "&layer=3&head=1"));
        views.put("all heads", path("heads", q));
        views.put("all heads, value-weighted", path("heads", q + "&weighted=1"));
        views.put("DLA", path("dla", q));
        views.put("DLA by source", path("dla", q + "&sources=true"));
        views.put("weights (L1 H2)", path("weights", "layer=1&head=2"));
        views.put("head detectors (length 127)", path("detectors", "length=127"));
        views.put("generate (20 after 236)", path("generate", "text=" + enc(prompt(236)) + "&maxNew=20"));
        Map<String, Time[]> times = new LinkedHashMap<>();
        for (var v : views.entrySet()) times.put(v.getKey(), measure(v.getKey(), () -> time(v.getValue())));
        times.put("compare (3 × 256 tokens, loss)", measure("compare", new java.util.function.Supplier<>() {
            boolean again;
            public Time get() { Time t = compare(again); again = true; return t; }
        }));

        // from one view to the next by the navigation links, as a user goes (the app is loaded: no page load)
        Map<String, Long> switched = new LinkedHashMap<>();
        page.navigate(app.url(path("prompt", q)), new Page.NavigateOptions().setTimeout(120_000));
        measured("#results");
        for (String view : List.of("lens", "attention", "heads", "dla", "weights", "prompt")) {
            try {
                switched.put(view, byLink(view));
            } catch (RuntimeException e) {
                System.out.println("view " + view + " by its link failed: " + e.getMessage().lines().findFirst().orElse(""));
                switched.put(view, -1L);
            }
        }

        double[] load = loadAverage();
        StringBuilder md = new StringBuilder(String.format(java.util.Locale.ROOT,
                "Chromium, " + MODEL + ", 256-token prompt; load average %.2f %.2f %.2f on %d cores%n%n"
                        + "| view | first (ms) | cached (ms) | server, first/cached (ms) | page (KB) |%n| --- | ---: | ---: | ---: | ---: |%n",
                load[0], load[1], load[2], Runtime.getRuntime().availableProcessors()));
        times.forEach((k, t) -> md.append(String.format(java.util.Locale.ROOT, "| %s | %,d | %,d | %,d / %,d | %,d |%n",
                k, t[0].total(), t[1].total(), t[0].server(), t[1].server(), t[1].bytes() / 1024)));
        md.append("\nBy the navigation link from the view before (the app loaded; the prompt carried over), ms from the click until "
                + "the results are drawn:\n\n| view | ms |\n| --- | ---: |\n");
        switched.forEach((k, t) -> md.append(String.format(java.util.Locale.ROOT, "| %s | %,d |%n", k, t)));
        System.out.println(md);
        Files.writeString(Path.of("target", "view-times.md"), md);
    }

    /**
     * The compare view with three full-context prompts typed into its form (too long for a URL); three, not four, so
     * that the form's default list of four cannot be mistaken for the typed one.
     */
    private Time compare(boolean again) {
        page.navigate(app.url(path("compare", "metric=loss")), new Page.NavigateOptions().setTimeout(120_000));
        // a different list the first time, so the first run is computed and the second is the same list again
        String list = String.join("\n", List.of(prompt(256), prompt(255), prompt(254)));
        page.locator("#prompts textarea").fill(list);
        long t0 = ((Number) page.evaluate("() => performance.now()")).longValue();
        page.locator("#run").click();
        page.waitForFunction("() => document.querySelector('#compare-summary')?.textContent.startsWith('3 prompts')"
                + (again ? " && document.querySelector('#compare-summary').textContent.includes('from the cache')" : ""),
                null, new Page.WaitForFunctionOptions().setTimeout(120_000).setPollingInterval(10));
        Time t = measured("#results");
        return new Time(t.total() - t0, 0, 0);
    }

    /**
     * Clicks the navigation link of {@code view} and times until the new view's results are drawn: the old results
     * are marked first, so only the new view's count.
     */
    private long byLink(String view) {
        long t0 = ((Number) page.evaluate("() => performance.now()")).longValue();
        followLink(page, view);
        long t1 = ((Number) page.evaluate("() => new Promise(done => requestAnimationFrame(() => setTimeout(() => done(performance.now()), 0)))")).longValue();
        return t1 - t0;
    }

    /** Clicks the navigation link of {@code view} and waits until the new view's results are drawn (the old ones marked first). */
    static void followLink(Page page, String view) {
        page.evaluate("() => document.querySelector('#results')?.setAttribute('data-old', '1')");
        page.locator("#explorer-nav a[data-view='" + view + "']").click();
        String charts = "#results:not([data-old]) :is(loupe-heatmap, loupe-bars, loupe-lines, loupe-series, loupe-head-grid)";
        page.waitForFunction("() => document.querySelector('#results:not([data-old])')"
                        + " && !document.querySelector('#results vaadin-progress-bar:not([hidden])')"
                        + " && [...document.querySelectorAll('" + charts + "')].every(e => e.dataset.rendered)",
                null, new Page.WaitForFunctionOptions().setTimeout(120_000).setPollingInterval(10));
    }

    /** The machine's load average (1, 5, 15 min) from /proc/loadavg, or the JVM's 1-minute figure. */
    private static double[] loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return new double[]{Double.parseDouble(f[0]), Double.parseDouble(f[1]), Double.parseDouble(f[2])};
        } catch (Exception e) {
            double l = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
            return new double[]{l, l, l};
        }
    }
}
