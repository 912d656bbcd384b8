package dev.loupe.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.microsoft.playwright.Locator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;

import static com.microsoft.playwright.assertions.PlaywrightAssertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The hosted demo: the packaged app started with the {@code demo} profile (what {@code ./loupe run --demo} passes),
 * behind a pretend reverse proxy (forwarded addresses on), with a low request rate so the limit can be reached.
 * Writes are refused with a JSON 403, limits answer JSON 4xx naming their setting, every response carries the
 * security headers, and the explorer still renders under the content security policy without console errors.
 */
class DemoModeTest extends BrowserTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = LoupeApp.HTTP;
    private static final int RATE = 40;
    /** below brown-6l's context (so the server's limit is the one met), above the 100-token patching prompts below */
    private static final int MAX_PROMPT = 120;
    private static LoupeApp demo;

    @BeforeAll
    static void startDemo() throws Exception {
        Path work = Files.createTempDirectory("loupe-demo");
        demo = LoupeApp.launch(work, Files.createDirectories(work.resolve("data")), app.modelsDir(), List.of("-Dquarkus.profile=prod,demo",
                "-Dloupe.rate-limit.per-minute=" + RATE, "-Dloupe.max-prompt-tokens=" + MAX_PROMPT, "-Dquarkus.http.proxy.proxy-address-forwarding=true",
                "-Dquarkus.http.proxy.allow-x-forwarded=true"), "/q/health/ready");
    }

    @AfterAll
    static void stopDemo() {
        if (demo != null) demo.stop();
    }

    private static HttpResponse<String> send(String method, String path, String json, String forwardedFor) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(demo.url(path))).timeout(Duration.ofSeconds(60))
                .method(method, json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json));
        if (json != null) b.header("Content-Type", "application/json");
        if (forwardedFor != null) b.header("X-Forwarded-For", forwardedFor);
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode jsonError(HttpResponse<String> r, int status) throws Exception {
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("application/json"), r.headers().toString());
        JsonNode e = JSON.readTree(r.body());
        assertEquals(status, e.get("status").asInt(), r.body());
        assertFalse(e.get("error").asText().isBlank(), r.body());
        return e;
    }

    @Test
    void writesAreRefusedWithAJson403() throws Exception {
        JsonNode e = jsonError(send("POST", "/api/v1/models/brown-6l/neurons/index", "{}", null), 403);
        assertTrue(e.get("message").asText().contains("loupe.demo.index-models"), e.toString());
        e = jsonError(send("POST", "/api/v1/jobs", "{\"kind\": \"neurons-index\", \"params\": {\"model\": \"brown-6l\"}}", null), 403);
        assertTrue(e.get("message").asText().contains("turned off on this hosted demo"), e.toString());
    }

    @Test
    void limitsAnswerJson4xxNamingTheirSetting() throws Exception {
        String longText = URLEncoder.encode("the cat sat on the mat ".repeat(30), StandardCharsets.UTF_8);
        JsonNode e = jsonError(send("GET", "/api/v1/models/brown-6l/prompt?text=" + longText, null, null), 400);
        assertTrue(e.get("message").asText().contains("loupe.max-prompt-tokens") && e.get("message").asText().contains(MAX_PROMPT + " tokens"), e.toString());
        assertEquals(200, send("GET", "/api/v1/models/brown-6l/prompt?text=the%20cat%20sat", null, null).statusCode());

        // 100 positions x 256 neurons = 25,600 patched runs, over the demo's 20,000
        var sweep = JSON.createObjectNode().put("clean", "word ".repeat(99)).put("corrupt", "term ".repeat(99)).put("sweep", "neurons:1");
        e = jsonError(send("POST", "/api/v1/models/" + LoupeApp.MODEL + "/patching", sweep.toString(), null), 400);
        assertTrue(e.get("message").asText().contains("loupe.patching.max-rows"), e.toString());

        e = jsonError(send("POST", "/api/v1/models/" + LoupeApp.MODEL + "/circuits", "{\"task\": \"induction\", \"pairs\": 64}", null), 400);
        assertTrue(e.get("message").asText().contains("loupe.circuits.max-pairs"), e.toString());
    }

    @Test
    void requestRateIsLimitedPerForwardedClient() throws Exception {
        // a burst of RATE passes; the bucket refills at RATE per minute while the burst is sent, so allow for a few more
        int ok = 0;
        HttpResponse<String> over = null;
        for (int i = 0; i < 2 * RATE && over == null; i++) {
            HttpResponse<String> r = send("GET", "/api/v1/models", null, "203.0.113.7");
            if (r.statusCode() == 200) ok++;
            else over = r;
        }
        assertTrue(over != null, "no 429 after " + 2 * RATE + " requests");
        assertTrue(ok >= RATE, "the burst passed: " + ok);
        JsonNode e = jsonError(over, 429);
        assertTrue(e.get("message").asText().contains("loupe.rate-limit.per-minute"), e.toString());
        assertTrue(Integer.parseInt(over.headers().firstValue("Retry-After").orElseThrow()) >= 1);
        assertEquals(200, send("GET", "/api/v1/models", null, "203.0.113.8").statusCode(), "another client behind the same proxy");
    }

    @Test
    void everyResponseCarriesSecurityHeadersAndOnlyEmbedRoutesMayBeFramed() throws Exception {
        for (String path : List.of("/", "/api/v1/models", "/api/v1/nope-" + System.nanoTime(), "/q/health/ready", "/model/brown-6l/neurons/0/5")) {
            HttpResponse<String> r = send("GET", path, null, null);
            var h = r.headers();
            assertEquals("nosniff", h.firstValue("X-Content-Type-Options").orElse(null), path);
            assertEquals("DENY", h.firstValue("X-Frame-Options").orElse(null), path);
            String csp = h.firstValue("Content-Security-Policy").orElse("");
            assertTrue(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), path + ": " + csp);
        }
        HttpResponse<String> embed = send("GET", "/model/brown-6l/neurons/0/5?embed=true", null, null);
        assertEquals(200, embed.statusCode());
        assertTrue(embed.headers().firstValue("X-Frame-Options").isEmpty(), embed.headers().toString());
        assertTrue(embed.headers().firstValue("Content-Security-Policy").orElse("").contains("frame-ancestors *"), embed.headers().toString());
        // no database console and no stack traces
        HttpResponse<String> console = send("GET", "/h2-console/", null, null);
        assertFalse(console.body().contains("H2 Console") || console.body().contains("jdbc:"), console.body());
        HttpResponse<String> bad = send("POST", "/api/v1/models/brown-6l/circuits", "{\"task\": ", null);
        assertTrue(bad.statusCode() >= 400 && bad.statusCode() < 500, bad.statusCode() + " " + bad.body());
        assertFalse(bad.body().contains("\tat ") || bad.body().contains("Exception"), bad.body());
    }

    @Test
    void explorerRendersUnderTheContentSecurityPolicy() {
        page.navigate(demo.url("/"));
        assertThat(page.locator("vaadin-grid#models")).isVisible();
        page.navigate(demo.url("/model/" + LoupeApp.MODEL + "/prompt?text=" + URLEncoder.encode("Hello world", StandardCharsets.UTF_8)));
        Locator chips = page.locator("#tokens .token-chip");
        assertThat(chips).hasCount(3);
        assertThat(page.locator("#next-bars")).hasAttribute("data-rendered", Pattern.compile("\\d+"));
        chips.nth(1).click(); // a round trip to the server under the policy
        page.waitForURL(Pattern.compile(".*position=1.*"));
        page.navigate(demo.url("/model/brown-6l/neurons/0/5?embed=true"));
        page.waitForLoadState();
        assertThat(page.locator("body")).containsText("0/5");
    }
}
