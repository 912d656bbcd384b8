package dev.loupe.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.microsoft.playwright.Locator;
import com.microsoft.playwright.options.WaitForSelectorState;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The circuits view on induction-2l: EAP-IG runs with progress and draws the induction circuit; the slider's live
 * faithfulness is the REST exact evaluation of the same top-n edges; a shared link reopens the same graph with its
 * pins and threshold; ACDC keeps a small circuit. Bad requests are JSON 400s.
 */
class CircuitsViewTest extends BrowserTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String M = "induction-2l";

    static HttpResponse<String> post(String path, String body) throws Exception {
        return LoupeApp.HTTP.send(HttpRequest.newBuilder(URI.create(app.url(path))).timeout(Duration.ofSeconds(120))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    Locator graph() {
        Locator g = page.locator("#circuit-graph");
        g.waitFor(new Locator.WaitForOptions().setTimeout(180_000));
        return g;
    }

    double shownFaithfulness() {
        Matcher m = Pattern.compile("faithfulness (-?[0-9.]+)").matcher(page.locator("#shown").textContent());
        assertTrue(m.find(), page.locator("#shown").textContent());
        return Double.parseDouble(m.group(1));
    }

    @SuppressWarnings("unchecked")
    List<String> nodeIds() {
        return (List<String>) page.evaluate("() => document.querySelector('#circuit-graph').cy.nodes().map(n => n.id())");
    }

    @Test void eapIgGraphSliderAndSharedLink() throws Exception {
        page.navigate(app.url("/model/" + M + "/circuits?task=induction&pairs=16&method=eap-ig&steps=5"));
        page.locator("#run").click();
        Locator g = graph();
        assertEquals("30", g.getAttribute("data-edges"));
        List<String> nodes = nodeIds();
        assertTrue(nodes.contains("a0.h2") && nodes.contains("logits") && nodes.stream().anyMatch(n -> n.startsWith("a1.")), nodes.toString());
        String id = page.url().replaceAll(".*[?&]id=([0-9a-f]{64}).*", "$1");
        assertEquals(64, id.length(), page.url());
        screenshot("circuits-induction-eap-ig");

        // the slider's faithfulness is the exact evaluation of the top-n edges of the result
        JsonNode result = JSON.readTree(app.get("/api/v1/models/" + M + "/circuits/" + id).body());
        List<JsonNode> ranked = new ArrayList<>();
        result.get("edges").forEach(ranked::add);
        ranked.sort(Comparator.comparingDouble((JsonNode e) -> -Math.abs(e.get("score").asDouble())));
        page.locator("#top-n").fill("50");
        page.waitForCondition(() -> page.locator("#shown").textContent().startsWith("top 50 "));
        ObjectNode body = JSON.createObjectNode();
        body.set("dataset", result.get("dataset"));
        ArrayNode names = body.putArray("edges");
        for (JsonNode e : ranked.subList(0, 50)) names.add(e.get("from").asText() + "->" + e.get("to").asText());
        JsonNode ev = JSON.readTree(post("/api/v1/models/" + M + "/circuits/evaluate", body.toString()).body());
        assertEquals(Double.parseDouble(String.format(Locale.ROOT, "%.3f", ev.get("faithfulness").asDouble())), shownFaithfulness(), 1e-9);
        assertTrue(ev.get("faithfulness").asDouble() > 0.9, "50 of 81 edges are faithful: " + ev);
        assertEquals("50", graph().getAttribute("data-edges"));
        page.locator("#top-n").fill("81");
        page.waitForCondition(() -> page.locator("#shown").textContent().startsWith("top 81 "));
        assertEquals(1.0, shownFaithfulness(), 1e-9);

        // pin a node through its details, then reopen the link: same threshold, same pin
        page.locator("#top-n").fill("10");
        page.waitForCondition(() -> page.locator("#shown").textContent().startsWith("top 10 "));
        page.evaluate("() => document.querySelector('#circuit-graph').dispatchEvent(new CustomEvent('node-click', {detail: {id: 'a0.h0'}}))");
        page.locator("#pin-node").click();
        page.waitForCondition(() -> page.url().contains("pins=a0.h0"));
        assertTrue(page.locator("#open-node").getAttribute("href").contains("/attention?"));
        String link = page.url();
        page.navigate(link);
        Locator again = graph();
        assertEquals("10", again.getAttribute("data-edges"));
        assertTrue(nodeIds().contains("a0.h0"));
        assertTrue((Boolean) page.evaluate("() => document.querySelector('#circuit-graph').cy.getElementById('a0.h0').hasClass('pinned')"));
        assertTrue(page.locator("#shown").textContent().startsWith("top 10 "));
        page.locator("#faithfulness svg").first().waitFor();
    }

    @Test void acdcKeepsASmallCircuit() {
        page.navigate(app.url("/model/" + M + "/circuits?task=induction&pairs=16&method=acdc&tau=0.05"));
        page.locator("#run").click();
        Locator g = graph();
        String summary = page.locator("#summary").textContent();
        Matcher m = Pattern.compile("ACDC \\(τ 0.05\\) keeps (\\d+), faithfulness ([0-9.]+)").matcher(summary);
        assertTrue(m.find(), summary);
        int kept = Integer.parseInt(m.group(1));
        assertTrue(kept > 4 && kept < 40, summary);
        assertTrue(Double.parseDouble(m.group(2)) > 0.7, summary);
        assertEquals(String.valueOf(kept), g.getAttribute("data-edges"));
        screenshot("circuits-induction-acdc");
    }

    @Test void eapOnInductionAndEapIgOnTheDefaultModel() {
        page.navigate(app.url("/model/" + M + "/circuits?task=induction&pairs=16&method=eap"));
        page.locator("#run").click();
        graph();
        assertTrue(page.locator("#summary").textContent().startsWith("eap on 16 pairs"));
        screenshot("circuits-induction-eap");
        page.navigate(app.url("/model/brown-6l/circuits?task=agreement&pairs=16&method=eap-ig&steps=5"));
        page.locator("#run").click();
        Locator g = graph();
        assertEquals("30", g.getAttribute("data-edges"));
        Matcher m = Pattern.compile("clean metric (-?[0-9.]+) · corrupted (-?[0-9.]+)").matcher(page.locator("#summary").textContent());
        assertTrue(m.find());
        assertTrue(Double.parseDouble(m.group(1)) - Double.parseDouble(m.group(2)) > 2, "agreement has a clear gap");
        assertTrue(nodeIds().contains("m5") || nodeIds().stream().anyMatch(n -> n.startsWith("m")), nodeIds().toString());
        shownFaithfulness();
        screenshot("circuits-brown-6l-agreement");
    }

    @Test void badRequestsAreJson400s() throws Exception {
        HttpResponse<String> r = post("/api/v1/models/" + M + "/circuits",
                "{\"dataset\":{\"prompts\":[{\"clean_tokens\":[0,1,2],\"corrupt_tokens\":[0,1],\"answer_token\":3,\"wrong_token\":4}]},\"method\":\"eap\"}");
        assertEquals(400, r.statusCode());
        assertTrue(JSON.readTree(r.body()).get("message").asText().startsWith("pair 0: clean and corrupted prompts"), r.body());
        r = post("/api/v1/models/" + M + "/circuits", "{\"task\":\"induction\",\"method\":\"magic\"}");
        assertEquals(400, r.statusCode());
        assertTrue(r.body().contains("unknown method 'magic'"), r.body());
        assertEquals(404, app.get("/api/v1/models/" + M + "/circuits/" + "0".repeat(64)).statusCode());
    }
}
