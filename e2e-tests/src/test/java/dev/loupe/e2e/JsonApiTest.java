package dev.loupe.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import static dev.loupe.e2e.Explore.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The API for scripts over real HTTP: every GET endpoint also takes POST with a JSON body (so a prompt can fill a
 * 1,024-token context), every error is JSON {status, error, message} (also those of the HTTP layer: 400, 404, 405,
 * 413, 414, 415, 431), the UI never answers under /api/, and answers are gzipped when asked.
 */
class JsonApiTest {
    private static final LoupeApp app = LoupeApp.get();
    private static final String M = "/api/v1/models/" + LoupeApp.MODEL;

    static RawHttp.Response post(String path, String json) {
        return RawHttp.send(app.port(), "POST", path, Map.of("Content-Type", "application/json"), json.getBytes(StandardCharsets.UTF_8));
    }

    static JsonNode json(RawHttp.Response r) {
        try {
            return JSON.readTree(r.body());
        } catch (Exception e) {
            throw new AssertionError("not JSON (" + r.status() + "): " + RawHttp.abbreviate(r.body()), e);
        }
    }

    /** The answer is a JSON error with this status whose message contains the text. */
    static void assertJsonError(RawHttp.Response r, int status, String text, String what) {
        assertEquals(status, r.status(), what + ": " + RawHttp.abbreviate(r.body()));
        assertTrue(String.valueOf(r.header("content-type")).startsWith("application/json"), what + ": " + r.headers());
        JsonNode b = json(r);
        assertEquals(status, b.get("status").asInt(), what);
        assertTrue(!b.get("error").asText().isBlank(), what + ": " + r.body());
        assertTrue(b.get("message").asText().contains(text), what + ": " + r.body());
    }

    private static JsonNode withoutTiming(JsonNode answer) {
        JsonNode copy = answer.deepCopy();
        if (copy instanceof ObjectNode o) {
            o.remove("millis");
            o.remove("cached");
        }
        return copy;
    }

    @Test
    void postTakesTheSameParametersAsGet() {
        Object[][] cases = {
                {"prompt", "text=" + enc(PROMPT), "{\"text\": \"" + PROMPT + "\"}"},
                {"logit-lens", "text=" + enc(PROMPT) + "&token=" + enc("·the"), "{\"text\": \"" + PROMPT + "\", \"token\": \"·the\"}"},
                {"attention", "text=" + enc(PROMPT) + "&layer=1&head=2", "{\"text\": \"" + PROMPT + "\", \"layer\": 1, \"head\": 2}"},
                {"attention-heads", "text=" + enc(PROMPT) + "&weighted=true", "{\"text\": \"" + PROMPT + "\", \"weighted\": true}"},
                {"dla", "text=" + enc(PROMPT) + "&position=-1&a=" + enc("·mat") + "&b=" + enc("·cat"),
                        "{\"text\": \"" + PROMPT + "\", \"position\": -1, \"a\": \"·mat\", \"b\": \"·cat\"}"},
                {"detectors", "length=10&batch=1&seed=5", "{\"length\": 10, \"batch\": 1, \"seed\": 5}"},
                {"tokenize", "text=" + enc("Hello world"), "{\"text\": \"Hello world\"}"},
                {"detokenize", "ids=" + enc("15496,995"), "{\"ids\": [15496, 995]}"},
                // an array is the parameter repeated, as a GET sends a list
                {"detokenize", "ids=15496&ids=995", "{\"ids\": [15496, 995]}"},
                {"activations", "text=" + enc(PROMPT) + "&hook=blocks.0.hook_resid_post", "{\"text\": \"" + PROMPT + "\", \"hook\": \"blocks.0.hook_resid_post\"}"},
                {"hooks", "", "{}"},
        };
        for (Object[] c : cases) {
            String path = M + "/" + c[0];
            JsonNode got = get(app, path + "?" + c[1]);
            RawHttp.Response r = post(path, (String) c[2]);
            assertEquals(200, r.status(), c[0] + ": " + RawHttp.abbreviate(r.body()));
            assertEquals(withoutTiming(got), withoutTiming(json(r)), c[0] + ": POST and GET differ");
            if (got.has("key")) assertEquals(got.get("key").asText(), r.header("x-loupe-result"), c[0] + ": same cache key");
        }
        // the query string and the body combine; a parameter in both is an error
        assertEquals(3, json(post(M + "/attention?layer=1", "{\"text\": \"a b c\", \"head\": 0}")).get("result").get("patterns").get(0).size() - 1);
        assertJsonError(post(M + "/attention?layer=1", "{\"text\": \"a\", \"layer\": 0}"), 400, "given in the query and in the body", "twice");
        // a GET-only endpoint without model compute, and an empty body
        assertEquals(200, RawHttp.send(app.port(), "POST", "/api/v1/models", Map.of("Content-Type", "application/json"), new byte[0]).status());
    }

    @Test
    void aThousandTokenPromptFitsInAPostBody() throws Exception {
        String model = "e2e-ctx1024";
        if (!Files.exists(app.modelsDir().resolve(model)))
            RandomModel.write(app.modelsDir().resolve(model), model, 2, 4, 64, 1024, 7);
        String base = "/api/v1/models/" + model;
        String text = LongPromptTest.prompt(1000);
        String body = JSON.writeValueAsString(Map.of("text", text));

        RawHttp.Response tooLong = RawHttp.get(app.port(), base + "/prompt?text=" + enc(text));
        assertJsonError(tooLong, 414, "send long parameters as a JSON body with POST", "1,000 tokens in the URL");

        JsonNode ids = json(post(base + "/tokenize", body)).get("ids");
        assertEquals(1000, ids.size(), "1,000 tokens with BOS");
        RawHttp.Response p = post(base + "/prompt", body);
        assertEquals(200, p.status(), RawHttp.abbreviate(p.body()));
        JsonNode positions = json(p).get("result").get("positions");
        assertEquals(1000, positions.size());
        for (int i = 0; i < 1000; i += 97) assertEquals(ids.get(i).asInt(), positions.get(i).get("token").get("id").asInt());

        JsonNode pattern = json(post(base + "/attention", JSON.writeValueAsString(Map.of("text", text, "layer", 1, "head", 3))))
                .get("result").get("patterns").get(0);
        assertEquals(1000, pattern.size());
        for (int q : new int[]{0, 1, 500, 999}) {
            double sum = 0;
            for (int k = 0; k < pattern.get(q).size(); k++) sum += pattern.get(q).get(k).asDouble();
            assertEquals(1.0, sum, 1e-4, "row " + q + " is a distribution");
        }
        String over = JSON.writeValueAsString(Map.of("text", LongPromptTest.prompt(1025)));
        assertJsonError(post(base + "/prompt", over), 400, "more than the context", "1,025 tokens");
    }

    @Test
    void errorsOfTheHttpLayerAreJson() {
        int port = app.port();
        String big = "a".repeat(100_000);
        assertJsonError(RawHttp.get(port, M + "/prompt?text=" + big), 414, "longer than", "100,000-character query");
        assertJsonError(RawHttp.get(port, M + "/prompt?text=100%"), 400, "", "malformed escape");
        assertJsonError(RawHttp.get(port, M + "/prompt?text=%zz"), 400, "", "malformed escape");
        assertJsonError(RawHttp.send(port, "GET", M + "/hooks", Map.of("X-Big", "b".repeat(100 * 1024)), null), 431, "headers are larger", "100 KB header");

        byte[] eleven = new byte[11 * 1024 * 1024];
        Arrays.fill(eleven, (byte) ' ');
        assertJsonError(RawHttp.send(port, "POST", M + "/prompt", Map.of("Content-Type", "application/json"), eleven), 413, "larger than", "11 MB body");
        assertJsonError(RawHttp.send(port, "POST", M + "/patching", Map.of("Content-Type", "application/json"), eleven), 413, "larger than", "11 MB body to a JAX-RS POST");
        Map<String, String> chunked = Map.of("Content-Type", "application/json", "Transfer-Encoding", "chunked");
        assertJsonError(RawHttp.send(port, "POST", M + "/patching", chunked, RawHttp.chunked(eleven)), 413, "", "11 MB chunked body to a JAX-RS POST");
        assertJsonError(RawHttp.send(port, "POST", "/api/v1/jobs", chunked, RawHttp.chunked("{\"kind\": \"nope\"}".getBytes())), 400,
                "unknown job kind 'nope'", "a small chunked body reaches its JAX-RS resource");

        assertJsonError(RawHttp.send(port, "POST", M + "/prompt", Map.of("Content-Type", "text/plain"), "hi".getBytes()), 415, "application/json", "text/plain");
        assertJsonError(RawHttp.send(port, "POST", M + "/prompt", Map.of(), "text=hi".getBytes()), 415, "application/json", "no content type");
        assertJsonError(RawHttp.send(port, "POST", M + "/patching", Map.of("Content-Type", "text/plain"), "hi".getBytes()), 415, "", "text/plain to a JAX-RS POST");

        Map<String, String> notFound = new LinkedHashMap<>();
        notFound.put("/api/v1/nope", "no API endpoint");
        notFound.put("/api/v2/models", "no API endpoint");
        notFound.put("/api/v1/models/brown-6l/foo", "no API endpoint");
        notFound.put("/api/v1/models/../../etc/passwd", "no API endpoint");
        notFound.put("/api/v1/models/%2e%2e/%2e%2e/etc/passwd", "no API endpoint");
        notFound.put("/api/../api/v1/models", "no API endpoint");
        notFound.put("/api", "no API endpoint");
        notFound.put("/api/", "no API endpoint");
        notFound.put("/api/v1/models/no-such-model/prompt?text=hi", "unknown model 'no-such-model'");
        for (var e : notFound.entrySet()) {
            assertJsonError(RawHttp.get(port, e.getKey()), 404, e.getValue(), e.getKey());
            assertJsonError(post(e.getKey(), "{}"), 404, e.getValue().contains("unknown") ? "" : e.getValue(), "POST " + e.getKey());
        }

        RawHttp.Response delete = RawHttp.send(port, "DELETE", M + "/prompt?text=hi", Map.of(), null);
        assertJsonError(delete, 405, "DELETE is not allowed", "DELETE prompt");
        assertEquals("GET, HEAD, POST", delete.header("allow"), "a GET endpoint also takes POST (a JSON body)");
        RawHttp.Response getPatching = RawHttp.get(port, M + "/patching");
        assertJsonError(getPatching, 405, "GET is not allowed", "GET on a POST endpoint");
        assertEquals("POST", getPatching.header("allow"));
        assertJsonError(RawHttp.send(port, "PUT", "/api/v1/models", Map.of("Content-Type", "application/json"), "{}".getBytes()), 405, "PUT", "PUT models");

        Object[][] badBodies = {
                {"{\"text\": ", "not valid JSON"},
                {"[\"hi\"]", "must be a JSON object"},
                {"\"hi\"", "must be a JSON object"},
                {"{\"txt\": \"hi\"}", "unknown parameter 'txt'"},
                {"{\"text\": {\"a\": 1}}", "must be a string, number, boolean"},
                {"{\"text\": [[1]]}", "must be a string, number, boolean"},
                {"{\"text\": \"hi\", \"layer\": 1.5}", "layer must be a whole number, got '1.5'"},
                {"{\"text\": \"hi\", \"layer\": 99999999999999999999}", "layer must be a whole number"},
        };
        for (Object[] b : badBodies) assertJsonError(post(M + "/attention", (String) b[0]), 400, (String) b[1], (String) b[0]);
    }

    @Test
    void answersAreGzippedWhenAsked() {
        // the whole-layer attention of brown-6l for 209 tokens: about 1.4 MB of JSON
        String path = "/api/v1/models/brown-6l/attention?layer=0&text=" + enc(LongPromptTest.prompt(209));
        RawHttp.Response plain = RawHttp.get(app.port(), path);
        assertEquals(200, plain.status(), RawHttp.abbreviate(plain.body()));
        assertEquals(null, plain.header("content-encoding"));
        RawHttp.Response gz = RawHttp.send(app.port(), "GET", path, Map.of("Accept-Encoding", "gzip"), null);
        assertEquals(200, gz.status());
        assertEquals("gzip", gz.header("content-encoding"));
        assertEquals(withoutTiming(json(plain)), withoutTiming(json(gz)), "the same answer once gunzipped");
        int rawBytes = plain.raw().length, gzBytes = gz.raw().length;
        System.out.printf("gzip: whole-layer attention, 209 tokens: %,d bytes plain, %,d gzipped (%.1f×)%n", rawBytes, gzBytes, rawBytes / (double) gzBytes);
        assertTrue(rawBytes > 1_000_000, "the answer is over 1 MB: " + rawBytes);
        assertTrue(gzBytes * 3 < rawBytes, "gzip saves at least two thirds: " + gzBytes + " of " + rawBytes);

        RawHttp.Response error = RawHttp.send(app.port(), "GET", "/api/v1/nope", Map.of("Accept-Encoding", "gzip"), null);
        assertJsonError(error, 404, "no API endpoint", "a gzipped error");
        assertNotNull(error.body());
    }
}
