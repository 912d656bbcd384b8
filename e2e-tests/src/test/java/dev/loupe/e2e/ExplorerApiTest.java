package dev.loupe.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.loupe.e2e.Explore.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The explorer's REST endpoints: real content, the cache (also across a restart) and JSON errors. */
class ExplorerApiTest {
    private static final LoupeApp app = LoupeApp.get();

    @Test
    void promptHasTokensIdsLossesAndTopTen() {
        JsonNode r = get(app, api("prompt", "text=" + enc("Hello world"))).get("result");
        JsonNode ps = r.get("positions");
        assertEquals(3, ps.size());
        assertEquals(50256, ps.get(0).get("token").get("id").asInt());
        assertEquals(15496, ps.get(1).get("token").get("id").asInt());
        assertEquals("·world", ps.get(2).get("token").get("token").asText());
        assertEquals(" world", ps.get(2).get("token").get("text").asText());
        assertTrue(ps.get(0).get("loss").isNull());
        double loss = ps.get(2).get("loss").asDouble();
        assertEquals(Math.exp(-loss), ps.get(2).get("prob").asDouble(), 1e-9);
        assertEquals(10, ps.get(2).get("next").size());
        double prev = 1;
        for (JsonNode c : ps.get(2).get("next")) {
            assertTrue(c.get("prob").asDouble() <= prev);
            prev = c.get("prob").asDouble();
        }
        assertEquals((ps.get(1).get("loss").asDouble() + loss) / 2, r.get("meanLoss").asDouble(), 1e-9);
    }

    @Test
    void logitLensHasEveryLayerAndTheChosenToken() {
        JsonNode r = get(app, api("logit-lens", "text=" + enc(PROMPT) + "&token=" + enc("·the"))).get("result");
        assertEquals(LoupeApp.MODEL_LAYERS + 1, r.get("layers").size());
        assertEquals("output", r.get("layers").get(LoupeApp.MODEL_LAYERS).asText());
        assertEquals(262, r.get("target").get("id").asInt()); // " the"
        int t = r.get("tokens").size();
        for (JsonNode row : r.get("cells")) {
            assertEquals(t, row.size());
            for (JsonNode cell : row) {
                assertEquals(5, cell.get("top").size());
                double p = cell.get("target").asDouble();
                assertTrue(p > 0 && p <= cell.get("top").get(0).get("prob").asDouble() + 1e-12 || cell.get("targetRank").asInt() == 1);
            }
        }
        // the last row is the model's output: the same top token as the prompt view
        JsonNode pred = get(app, api("prompt", "text=" + enc(PROMPT))).get("result").get("positions");
        assertEquals(pred.get(t - 1).get("next").get(0).get("id").asInt(),
                r.get("cells").get(LoupeApp.MODEL_LAYERS).get(t - 1).get("top").get(0).get("id").asInt());
    }

    @Test
    void attentionRowsAreDistributionsOverEarlierKeys() {
        JsonNode r = get(app, api("attention", "text=" + enc(PROMPT) + "&layer=1")).get("result");
        assertEquals(LoupeApp.MODEL_HEADS, r.get("patterns").size());
        JsonNode one = get(app, api("attention", "text=" + enc(PROMPT) + "&layer=1&head=2")).get("result");
        assertEquals(1, one.get("patterns").size());
        assertEquals(r.get("patterns").get(2), one.get("patterns").get(0));
        JsonNode p = one.get("patterns").get(0);
        for (int q = 0; q < p.size(); q++) {
            double sum = 0;
            for (int k = 0; k < p.size(); k++) {
                if (k > q) assertEquals(0, p.get(q).get(k).asDouble());
                sum += p.get(q).get(k).asDouble();
            }
            assertEquals(1, sum, 1e-4);
        }
    }

    @Test
    void dlaTotalsEqualTheLogitDifference() {
        JsonNode r = get(app, api("dla", "text=" + enc(PROMPT) + "&a=" + enc("·mat") + "&b=" + enc("·cat"))).get("result");
        double sum = r.get("embed").asDouble() + r.get("posEmbed").asDouble() + r.get("lnFinalBias").asDouble();
        for (JsonNode l : r.get("heads")) for (JsonNode v : l) sum += v.asDouble();
        for (JsonNode v : r.get("attnBias")) sum += v.asDouble();
        for (JsonNode v : r.get("mlps")) sum += v.asDouble();
        assertEquals(r.get("logitDiff").asDouble(), sum, 1e-4);
        assertEquals(r.get("logitA").asDouble() - r.get("logitB").asDouble(), r.get("logitDiff").asDouble(), 1e-9);
        assertEquals(LoupeApp.MODEL_LAYERS, r.get("heads").size());
        assertEquals(LoupeApp.MODEL_HEADS, r.get("heads").get(0).size());
        assertEquals(" mat", r.get("a").get("text").asText());
        // A alone, at an explicit position; A by id
        JsonNode alone = get(app, api("dla", "text=" + enc(PROMPT) + "&position=2&a=%23" + 3332)).get("result");
        assertTrue(alone.get("b").isNull());
        assertEquals(2, alone.get("position").asInt());
        assertEquals(alone.get("logitA").asDouble(), alone.get("total").asDouble(), 1e-4);
    }

    @Test
    void detectorsScoreEveryHeadBetweenZeroAndOne() {
        JsonNode r = get(app, api("detectors", "length=20&batch=2&seed=3")).get("result");
        assertEquals(41, r.get("sample").size());
        assertEquals(r.get("sample").get(1), r.get("sample").get(21));
        for (String k : new String[]{"previousToken", "duplicateToken", "induction"}) {
            assertEquals(LoupeApp.MODEL_LAYERS, r.get(k).size());
            for (JsonNode l : r.get(k)) {
                assertEquals(LoupeApp.MODEL_HEADS, l.size());
                for (JsonNode v : l) assertTrue(v.asDouble() >= 0 && v.asDouble() <= 1, k + " " + v);
            }
        }
    }

    @Test
    void aRepeatedRequestIsServedFromTheCache() {
        String path = api("logit-lens", "text=" + enc("A request made twice " + System.nanoTime()));
        HttpResponse<String> first = app.get(path);
        HttpResponse<String> second = app.get(path);
        assertEquals("miss", first.headers().firstValue("X-Loupe-Cache").orElse(""));
        assertEquals("hit", second.headers().firstValue("X-Loupe-Cache").orElse(""));
        assertEquals(first.headers().firstValue("X-Loupe-Result"), second.headers().firstValue("X-Loupe-Result"));
        JsonNode a = get(app, path), b = get(app, path);
        assertEquals(a.get("result"), b.get("result"));
        assertTrue(b.get("cached").asBoolean());
    }

    @Test
    void theCacheSurvivesARestart() throws Exception {
        Path work = Files.createTempDirectory("loupe-restart");
        Path data = Files.createDirectories(work.resolve("data"));
        String path = api("dla", "text=" + enc("Kept across restarts"));
        LoupeApp first = LoupeApp.launch(work, data, app.modelsDir());
        JsonNode before;
        try {
            HttpResponse<String> r = first.get(path);
            assertEquals("miss", r.headers().firstValue("X-Loupe-Cache").orElse(""), r.body());
            before = JSON.readTree(r.body());
        } finally {
            first.stop();
        }
        LoupeApp second = LoupeApp.launch(work, data, app.modelsDir());
        try {
            HttpResponse<String> r = second.get(path);
            assertEquals("hit", r.headers().firstValue("X-Loupe-Cache").orElse(""), r.body());
            assertEquals(before.get("result"), JSON.readTree(r.body()).get("result"));
        } finally {
            second.stop();
        }
    }

    @Test
    void badInputIsA4xxWithAJsonMessage() throws Exception {
        String longPrompt = "word ".repeat(LoupeApp.MODEL_CONTEXT + 5);
        Object[][] cases = {
                {api("prompt", "text="), 400, "the prompt is empty"},
                {api("prompt", "text=" + enc(longPrompt)), 400, "more than the context"},
                {"/api/v1/models/no-such-model/prompt?text=hi", 404, "unknown model 'no-such-model'"},
                {api("attention", "text=hi&layer=" + LoupeApp.MODEL_LAYERS), 400, "layer 2 is out of range"},
                {api("attention", "text=hi&layer=0&head=-3"), 400, "head -3 is out of range"},
                {api("attention", "text=hi&layer=0&head=-1"), 400, "head -1 is out of range"},
                {api("attention", "text=hi&layer=abc"), 400, "layer must be a whole number, got 'abc'"},
                {api("detectors", "seed=x1"), 400, "seed must be a whole number, got 'x1'"},
                {api("logit-lens", "text=hi&token=" + enc("Parisxyz")), 400, "unknown token 'Parisxyz'"},
                {api("dla", "text=hi&a=%23999999"), 400, "unknown token"},
                {api("dla", "text=hi&position=7"), 400, "position 7 is out of range"},
                {api("detectors", "length=1000"), 400, "sequence length 1000 is out of range"},
                {"/api/v1/models/" + LoupeApp.BROKEN_MODEL + "/prompt?text=hi", 409, "unavailable"},
        };
        for (Object[] c : cases) {
            HttpResponse<String> r = app.get((String) c[0]);
            assertEquals(c[1], r.statusCode(), c[0] + ": " + r.body());
            assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("application/json"));
            JsonNode body = JSON.readTree(r.body());
            assertEquals((int) c[1], body.get("status").asInt());
            assertTrue(body.get("message").asText().contains((String) c[2]), c[0] + ": " + r.body());
        }
    }

    @Test
    void everyEndpointIsInTheOpenApiDocument() throws Exception {
        JsonNode paths = JSON.readTree(app.get("/q/openapi?format=json").body()).get("paths");
        for (String e : new String[]{"prompt", "logit-lens", "attention", "dla", "detectors"})
            assertTrue(paths.has("/api/v1/models/{model}/" + e), e + " missing from " + paths.fieldNames());
        // every GET endpoint also takes POST with its query parameters as a JSON object body
        JsonNode post = paths.path("/api/v1/models/{model}/prompt").path("post");
        assertTrue(post.path("requestBody").path("content").path("application/json").path("schema").path("properties").has("text"), post.toString());
        for (var it = paths.fields(); it.hasNext(); ) {
            var p = it.next();
            if (p.getKey().startsWith("/api/") && p.getValue().has("get")) assertTrue(p.getValue().has("post"), p.getKey() + " lists no POST");
        }
    }
}
