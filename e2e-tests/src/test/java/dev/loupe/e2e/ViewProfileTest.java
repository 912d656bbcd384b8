package dev.loupe.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.gson.JsonObject;
import com.microsoft.playwright.Browser;
import com.microsoft.playwright.CDPSession;
import com.microsoft.playwright.Page;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static dev.loupe.e2e.Explore.enc;
import static dev.loupe.e2e.LongPromptTest.prompt;

/**
 * Where a view's time goes in Chromium: {@code -Dloupe.profile=VIEW[,VIEW…]} (a view's path and query under the
 * default model, {@code Q} standing for the 256-token prompt, e.g. {@code attention?Q&layer=3&head=1}) opens each view
 * once (so its results are cached), then again under the V8 CPU profiler and a timeline trace. Prints the page's
 * navigation timings and the 30 functions with the most self time, and writes the trace (chrome://tracing, Perfetto)
 * to target/profile-VIEW.json, the CPU profile to target/profile-VIEW.cpuprofile. {@code -Dloupe.eval=FILE} evaluates a JavaScript function from FILE on the page
 * afterwards and prints what it returns (e.g. timing a chart's setOption with variants). {@code VIEW>LINK} (e.g.
 * {@code prompt?Q>lens}) profiles the click on LINK's navigation link from VIEW instead. Opt-in; asserts nothing.
 */
@EnabledIfSystemProperty(named = "loupe.profile", matches = ".+")
class ViewProfileTest extends BrowserTest {
    @Test
    void profile() throws Exception {
        String q = "text=" + enc(prompt(256));
        Explore.get(app, "/api/v1/models/" + ViewTimesTest.MODEL + "/tokenize?text=" + enc("warm"));
        for (String v : System.getProperty("loupe.profile").split(",")) {
            // VIEW>LINK: open VIEW, then profile the click on the navigation link to LINK
            String[] parts = v.split(">");
            String path = "/model/" + ViewTimesTest.MODEL + "/" + parts[0].replace("Q", q);
            page.navigate(app.url(path), new Page.NavigateOptions().setTimeout(120_000));
            drawn();
            if (parts.length > 1) {
                ViewTimesTest.followLink(page, parts[1]);
                page.navigate(app.url(path), new Page.NavigateOptions().setTimeout(120_000));
                drawn();
            }
            Path trace = Path.of("target", "profile-" + v.replaceAll("[^A-Za-z0-9]+", "-") + ".json");
            Browser browser = page.context().browser();
            browser.startTracing(page, new Browser.StartTracingOptions().setPath(trace)
                    .setCategories(List.of("devtools.timeline", "v8", "disabled-by-default-devtools.timeline")));
            CDPSession cdp = page.context().newCDPSession(page);
            cdp.send("Profiler.enable");
            JsonObject interval = new JsonObject();
            interval.addProperty("interval", 200);
            cdp.send("Profiler.setSamplingInterval", interval);
            cdp.send("Profiler.start");
            double clicked = 0;
            if (parts.length > 1) {
                clicked = ((Number) page.evaluate("() => performance.now()")).doubleValue();
                ViewTimesTest.followLink(page, parts[1]);
            } else {
                page.navigate(app.url(path), new Page.NavigateOptions().setTimeout(120_000));
                drawn();
            }
            if (parts.length > 1) System.out.printf(Locale.ROOT, "profile %s: click to drawn %.0f ms%n", v, ((Number) page.evaluate("() => performance.now()")).doubleValue() - clicked);
            Object timings = page.evaluate("() => { const n = performance.getEntriesByType('navigation')[0];"
                    + " return [n.responseStart, n.domContentLoadedEventEnd, n.loadEventEnd, performance.now()].map(Math.round).join(' / '); }");
            JsonObject profile = cdp.send("Profiler.stop");
            browser.stopTracing();
            cdp.detach();
            System.out.println("profile " + v + ": first byte / DOM content loaded / load / drawn (ms): " + timings + "; trace " + trace);
            // the CPU profile too (DevTools' Performance panel opens it), for inclusive times
            Files.writeString(Path.of(trace.toString().replaceFirst("\\.json$", ".cpuprofile")), profile.get("profile").toString());
            selfTimes(new ObjectMapper().readTree(profile.get("profile").toString()));
            if (System.getProperty("loupe.eval") != null)
                System.out.println("profile " + v + " eval: " + page.evaluate(Files.readString(Path.of(System.getProperty("loupe.eval")))));
        }
    }

    /** The 30 functions (name, script, line) with the most self time in a V8 CPU profile. */
    private static void selfTimes(JsonNode p) {
        Map<Integer, String> names = new HashMap<>();
        for (JsonNode n : p.get("nodes")) {
            JsonNode f = n.get("callFrame");
            String url = f.get("url").asText();
            names.put(n.get("id").asInt(), f.get("functionName").asText() + " " + url.substring(url.lastIndexOf('/') + 1) + ":" + f.get("lineNumber").asInt());
        }
        Map<String, Double> self = new HashMap<>();
        JsonNode samples = p.get("samples"), deltas = p.get("timeDeltas");
        for (int i = 0; i < samples.size(); i++) self.merge(names.get(samples.get(i).asInt()), deltas.get(i).asDouble() / 1000, Double::sum);
        self.entrySet().stream().sorted(Map.Entry.<String, Double>comparingByValue().reversed()).limit(30)
                .forEach(e -> System.out.printf(Locale.ROOT, "  %8.1f ms  %s%n", e.getValue(), e.getKey()));
    }

    private void drawn() {
        page.waitForFunction("() => document.querySelector('#results') && !document.querySelector('#results vaadin-progress-bar:not([hidden])')"
                        + " && [...document.querySelectorAll('#results :is(loupe-heatmap, loupe-bars, loupe-lines, loupe-series, loupe-head-grid)')].every(e => e.dataset.rendered)",
                null, new Page.WaitForFunctionOptions().setTimeout(120_000).setPollingInterval(10));
    }
}
