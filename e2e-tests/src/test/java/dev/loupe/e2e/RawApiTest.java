package dev.loupe.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static dev.loupe.e2e.Explore.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** REST-only access for scripts: the tokenizer both ways, the hook names and raw activations (JSON and safetensors). */
class RawApiTest {
    private static final LoupeApp app = LoupeApp.get();

    @Test
    void tokenizeAndDetokenizeAreInverse() {
        JsonNode t = get(app, api("tokenize", "text=" + enc("Hello world")));
        assertEquals("[50256,15496,995]", t.get("ids").toString());
        assertEquals("·world", t.get("tokens").get(2).get("token").asText());
        JsonNode d = get(app, api("detokenize", "ids=" + enc("15496, 995")));
        assertEquals("Hello world", d.get("text").asText());
        var bad = app.get(api("detokenize", "ids=15496,99999999"));
        assertEquals(400, bad.statusCode());
        assertTrue(bad.body().contains("outside the vocabulary"), bad.body());
        assertEquals(400, app.get(api("detokenize", "ids=1,x")).statusCode());
    }

    @Test
    void hooksAreListedWithTheirAxes() {
        JsonNode hooks = get(app, "/api/v1/models/" + LoupeApp.MODEL + "/hooks");
        JsonNode pattern = null;
        for (JsonNode h : hooks) if (h.get("name").asText().equals("blocks.1.attn.hook_pattern")) pattern = h;
        assertTrue(pattern != null, hooks.toString());
        assertEquals("[\"batch\",\"head\",\"query_pos\",\"key_pos\"]", pattern.get("axes").toString());
        assertEquals(1, pattern.get("layer").asInt());
    }

    @Test
    void activationsMatchTheViewsAndTheResidualIdentity() throws Exception {
        String q = "text=" + enc(PROMPT);
        JsonNode a = get(app, api("activations", q + "&hook=blocks.1.attn.hook_pattern"));
        JsonNode att = get(app, api("attention", q + "&layer=1")).get("result").get("patterns");
        int t = a.get("shape").get(2).asInt();
        assertEquals(List.of(1, LoupeApp.MODEL_HEADS, t, t), List.of(a.get("shape").get(0).asInt(), a.get("shape").get(1).asInt(),
                a.get("shape").get(2).asInt(), a.get("shape").get(3).asInt()));
        JsonNode data = a.get("data");
        for (int h = 0; h < LoupeApp.MODEL_HEADS; h++)
            for (int qi = 0; qi < t; qi++)
                for (int k = 0; k < t; k++)
                    assertEquals(att.get(h).get(qi).get(k).asDouble(), data.get((h * t + qi) * t + k).asDouble(), 1e-6);
        // the residual stream passes unchanged from block 0's output to block 1's input
        JsonNode post = get(app, api("activations", q + "&hook=blocks.0.hook_resid_post")).get("data");
        JsonNode pre = get(app, api("activations", q + "&hook=blocks.1.hook_resid_pre")).get("data");
        assertEquals(post.size(), pre.size());
        for (int i = 0; i < post.size(); i++) assertEquals(post.get(i).asDouble(), pre.get(i).asDouble(), 0.0);

        // the same as safetensors: header length, JSON header, little-endian floats
        HttpResponse<byte[]> st = LoupeApp.HTTP.send(HttpRequest.newBuilder(URI.create(
                app.url(api("activations", q + "&hook=blocks.1.attn.hook_pattern&format=safetensors")))).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, st.statusCode());
        ByteBuffer b = ByteBuffer.wrap(st.body()).order(ByteOrder.LITTLE_ENDIAN);
        int n = (int) b.getLong();
        JsonNode header = JSON.readTree(new String(st.body(), 8, n, StandardCharsets.UTF_8));
        JsonNode e = header.get("blocks.1.attn.hook_pattern");
        assertEquals("F32", e.get("dtype").asText());
        assertEquals(a.get("shape").toString(), e.get("shape").toString());
        int at = 8 + n + e.get("data_offsets").get(0).asInt() + 4 * ((2 * t + 5) * t + 3);
        assertEquals(data.get((2 * t + 5) * t + 3).asDouble(), b.getFloat(at), 1e-7);

        var bad = app.get(api("activations", q + "&hook=blocks.9.nothing"));
        assertEquals(400, bad.statusCode());
        assertTrue(bad.body().contains("unknown hook 'blocks.9.nothing'"), bad.body());
    }
}
