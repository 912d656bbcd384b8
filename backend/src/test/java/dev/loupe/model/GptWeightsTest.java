package dev.loupe.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class GptWeightsTest {
    static final GptConfig TINY = new GptConfig(2, 2, 8, 32, 10, 20);
    @TempDir Path dir;

    @Test
    void randomInitIsSeededAndGpt2Like() {
        GptWeights a = GptWeights.random(TINY, 5, false), b = GptWeights.random(TINY, 5, false), c = GptWeights.random(TINY, 6, false);
        assertArrayEquals(a.get("h.1.mlp.c_fc.weight").data(), b.get("h.1.mlp.c_fc.weight").data());
        assertFalse(java.util.Arrays.equals(a.get("h.1.mlp.c_fc.weight").data(), c.get("h.1.mlp.c_fc.weight").data()));
        assertEquals(1f, a.get("h.0.ln_1.weight").get(3));
        assertEquals(0f, a.get("h.0.attn.c_attn.bias").get(3));
        GptWeights n = GptWeights.random(TINY, 5, true);
        assertNotEquals(1f, n.get("h.0.ln_1.weight").get(3));
        assertNotEquals(0f, n.get("ln_f.bias").get(0));
        assertEquals(TINY.parameterCount(), a.tensors().values().stream().mapToLong(Tensor::size).sum());
    }

    @Test
    void acceptsPrefixAndIgnoresMaskBuffers() throws WeightsException {
        Map<String, Tensor> named = new LinkedHashMap<>();
        GptWeights.random(TINY, 1, true).tensors().forEach((k, v) -> named.put("transformer." + k, v));
        named.put("transformer.h.0.attn.bias", Tensor.zeros(1, 1, 10, 10));
        named.put("h.1.attn.masked_bias", Tensor.scalar(-1e4f));
        GptWeights w = GptWeights.of(TINY, named);
        assertTrue(w.tensors().containsKey("h.0.attn.c_attn.weight"));
        assertFalse(w.tensors().containsKey("h.0.attn.bias"));
    }

    @Test
    void namesMissingExtraAndMisshapedTensors() {
        Map<String, Tensor> named = new LinkedHashMap<>(GptWeights.random(TINY, 1, false).tensors());
        named.remove("h.1.ln_2.bias");
        named.put("h.0.attn.c_proj.weight", Tensor.zeros(8, 9));
        named.put("h.7.mlp.c_fc.weight", Tensor.zeros(1));
        var e = assertThrows(WeightsException.class, () -> GptWeights.of(TINY, named));
        assertTrue(e.getMessage().contains("missing tensors: h.1.ln_2.bias"), e.getMessage());
        assertTrue(e.getMessage().contains("unexpected tensors: h.7.mlp.c_fc.weight"), e.getMessage());
        assertTrue(e.getMessage().contains("tensor 'h.0.attn.c_proj.weight' has shape [8, 9], expected [8, 8]"), e.getMessage());
    }

    @Test
    void saveLoadRoundTripAndConfigInference() throws IOException {
        GptWeights w = GptWeights.random(TINY, 3, true);
        Path f = dir.resolve("m.safetensors");
        w.save(f, Map.of());
        GptWeights back = GptWeights.load(f, TINY);
        for (var e : w.tensors().entrySet()) assertArrayEquals(e.getValue().data(), back.get(e.getKey()).data(), e.getKey());
        Map<String, int[]> shapes = new LinkedHashMap<>();
        try (Safetensors st = Safetensors.open(f)) {
            for (String n : st.names()) shapes.put(n, st.entry(n).shape());
        }
        assertEquals(TINY, GptWeights.inferConfig(shapes, 2));
        var wrong = assertThrows(WeightsException.class, () -> GptWeights.load(f, new GptConfig(2, 2, 8, 32, 12, 20)));
        assertTrue(wrong.getMessage().contains("wpe.weight' has shape [10, 8], expected [12, 8]"), wrong.getMessage());
    }

    @Test
    void attentionOnlyConfigsHaveNoMlpWeights() throws WeightsException {
        GptConfig ao = new GptConfig(1, 2, 8, 0, 10, 20, true, 1e-5);
        GptWeights w = GptWeights.random(ao, 1, false);
        assertFalse(w.tensors().containsKey("h.0.mlp.c_fc.weight"));
        Map<String, int[]> shapes = new LinkedHashMap<>();
        w.tensors().forEach((k, v) -> shapes.put(k, v.shape()));
        assertTrue(GptWeights.inferConfig(shapes, 2).attnOnly());
    }
}
