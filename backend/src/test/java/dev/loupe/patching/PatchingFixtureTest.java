package dev.loupe.patching;

import ai.onnxruntime.OnnxTensor;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.grad.Backprop;
import dev.loupe.jobs.Progress;
import dev.loupe.runtime.Engine;
import dev.loupe.runtime.Fixture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every sweep, both directions, every ablation and every metric against the PyTorch reference that patches one
 * index per hooked forward pass ({@code tools/reference/patching_reference.py}, fixture {@code patching.json}):
 * raw values, the unpatched metrics and the attribution estimates, within 1e-4 (absolute + relative).
 */
class PatchingFixtureTest {
    static final double TOL = 1e-4;
    static final Map<String, Model> MODELS = new HashMap<>();

    record Model(Fixture fixture, Engine engine, Backprop bp, Map<String, OnnxTensor> feeds) {}

    static Model model(String name) {
        return MODELS.computeIfAbsent(name, n -> {
            Fixture f = Fixture.load(n);
            Backprop bp = new Backprop(f.config(), 2);
            try {
                return new Model(f, Engine.create(f.weights()), bp, bp.weightFeeds(f.weights()));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    @AfterAll
    static void close() {
        for (Model m : MODELS.values()) {
            m.feeds().values().forEach(OnnxTensor::close);
            m.bp().close();
            m.engine().close();
        }
        MODELS.clear();
    }

    static JsonNode fixtures() throws IOException {
        return fixtures("patching.json");
    }

    static JsonNode fixtures(String file) throws IOException {
        try (InputStream in = PatchingFixtureTest.class.getResourceAsStream("/fixtures/" + file)) {
            return new ObjectMapper().readTree(in);
        }
    }

    static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }

    static void close(String what, double expected, double actual) {
        if (Math.abs(expected - actual) > TOL + TOL * Math.abs(expected)) fail(what + ": expected " + expected + ", got " + actual);
    }

    @TestFactory
    List<DynamicTest> everyCaseMatchesTheReference() throws IOException {
        return cases(fixtures());
    }

    /** Path patching from every sender head to the logits and to receivers' q, k and v ({@code patching_path.json}). */
    @TestFactory
    List<DynamicTest> pathPatchingMatchesTheReference() throws IOException {
        return cases(fixtures("patching_path.json"));
    }

    /** Path patching from every sender MLP, and from heads or MLPs with every other MLP frozen ({@code patching_path_mlp.json}). */
    @TestFactory
    List<DynamicTest> pathPatchingFromMlpsAndWithFrozenMlpsMatchesTheReference() throws IOException {
        return cases(fixtures("patching_path_mlp.json"));
    }

    /** The mean ablation over an 11-token text's own run, longer than the pairs ({@code patching_mean_text.json}). */
    @TestFactory
    List<DynamicTest> meanOverATextMatchesTheReference() throws IOException {
        return cases(fixtures("patching_mean_text.json"));
    }

    static List<DynamicTest> cases(JsonNode fixture) {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode m : fixture.get("models")) {
            String name = m.get("model").asText();
            List<PromptPair> pairs = new ArrayList<>();
            for (JsonNode p : m.get("pairs")) pairs.add(new PromptPair(ints(p.get("clean")), ints(p.get("corrupt"))));
            int[] meanText = m.has("mean_text") ? ints(m.get("mean_text")) : null;
            for (JsonNode c : m.get("cases")) {
                String label = name + " " + c.get("sweep").asText() + " " + c.get("mode").asText() + " " + c.get("metric").asText()
                        + (c.has("single_pair") ? " (one pair)" : "") + (meanText != null ? " over a text" : "");
                tests.add(DynamicTest.dynamicTest(label, () -> check(model(name), c.has("single_pair") ? pairs.subList(0, 1) : pairs, meanText, c, label)));
            }
        }
        return tests;
    }

    static void check(Model m, List<PromptPair> pairs, int[] meanText, JsonNode c, String label) {
        Sweep sweep = Sweep.parse(c.get("sweep").asText(), m.fixture().config());
        ActivationPatching run = ActivationPatching.prepare(m.engine(), pairs,
                java.util.Collections.nCopies(pairs.size(), PatchMetric.parse(c.get("metric").asText())), sweep,
                PatchMode.parse(c.get("mode").asText()), meanText);
        PatchingResult r = run.sweep(7, Progress.NONE); // a chunk size that splits layers unevenly
        assertArrayEquals(ints(c.get("shape")), r.shape(), label + " shape");
        close(label + " clean metric", c.get("clean_metric").asDouble(), r.cleanMetric());
        close(label + " corrupted metric", c.get("corrupt_metric").asDouble(), r.corruptMetric());
        JsonNode values = c.get("values");
        assertEquals(values.size(), r.values().length, label + " size");
        for (int i = 0; i < values.size(); i++) close(label + " value " + i, values.get(i).asDouble(), r.values()[i]);
        if (c.has("attribution")) {
            float[] a = run.attribution(m.bp(), m.feeds());
            JsonNode exp = c.get("attribution");
            for (int i = 0; i < exp.size(); i++) close(label + " attribution " + i, exp.get(i).asDouble(), a[i]);
        }
    }
}
