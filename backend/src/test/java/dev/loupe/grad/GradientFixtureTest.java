package dev.loupe.grad;

import ai.onnxruntime.OnnxTensor;
import dev.loupe.hooks.HookPoints;
import dev.loupe.model.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Gradients of every hook and every weight, for each metric of the fixtures, against PyTorch autograd (float64
 * values rounded to float32): in every tensor the largest error is within 1e-4 of the tensor's largest magnitude
 * plus 1e-6 absolute. (Elementwise relative errors of float32 arithmetic can exceed 1e-4 where a gradient is a
 * small sum of larger terms of both signs, e.g. at LayerNorm scales; the test prints the worst ones.)
 */
class GradientFixtureTest {
    static final double ATOL = 1e-6, RTOL = 1e-4;

    static Iterable<String> files() { return GradFixture.FILES; }

    @ParameterizedTest
    @MethodSource("files")
    void everyHookAndWeightGradientMatchesAutograd(String file) throws Exception {
        GradFixture f = GradFixture.load(file);
        Set<String> hooks = new LinkedHashSet<>(HookPoints.of(f.config()).names());
        GradGraph.Spec spec = new GradGraph.Spec(Set.of(), hooks, true);
        double worstAbs = 0, worstRel = 0, worstElem = 0;
        String worst = "";
        try (Backprop bp = new Backprop(f.config(), 2)) {
            Map<String, OnnxTensor> w = bp.weightFeeds(f.weights());
            for (String m : f.metrics()) {
                Metric metric = Metric.parse(m);
                int n = f.prompt().length;
                Backprop.Result r = bp.run(spec, w, f.prompt(), metric.ports(f.prompt(), 1, n, f.config().dVocab()));
                float expectedValue = f.grads().get("grad[" + m + "].value").data()[0];
                assertEquals(expectedValue, r.metric(), 1e-4 * Math.max(1, Math.abs(expectedValue)), file + " " + m + " value");
                int checked = 0;
                for (var e : f.grads().entrySet()) {
                    String key = e.getKey(), prefix = "grad[" + m + "].";
                    if (!key.startsWith(prefix) || key.endsWith(".value")) continue;
                    String rest = key.substring(prefix.length());
                    Tensor got = rest.startsWith("w.") ? r.get(GradGraph.weightGrad(rest.substring(2))) : r.get(GradGraph.hookGrad(rest));
                    Tensor want = e.getValue();
                    assertTrue(got.hasShape(want.shape()), key + " shape");
                    double scale = 0, maxErr = 0;
                    for (int i = 0; i < want.size(); i++) scale = Math.max(scale, Math.abs(want.data()[i]));
                    for (int i = 0; i < want.size(); i++) {
                        double a = got.data()[i], b = want.data()[i], err = Math.abs(a - b);
                        maxErr = Math.max(maxErr, err);
                        if (err > worstAbs) { worstAbs = err; worst = key; }
                        if (Math.abs(b) > 1e-3) worstElem = Math.max(worstElem, err / Math.abs(b));
                    }
                    double limit = ATOL + RTOL * scale, e2 = maxErr;
                    assertTrue(maxErr <= limit, () -> key + ": max error " + e2 + " exceeds " + limit);
                    if (scale > 0) worstRel = Math.max(worstRel, maxErr / scale);
                    checked++;
                }
                assertEquals(hooks.size() + f.weights().tensors().size(), checked, file + " " + m + ": every hook and weight checked");
            }
            w.values().forEach(OnnxTensor::close);
        }
        System.out.printf("grad fixtures %s: max abs error %.3g (%s), max error / tensor max %.3g, max elementwise rel error (|ref| > 1e-3) %.3g%n",
                file, worstAbs, worst, worstRel, worstElem);
    }

    @org.junit.jupiter.api.Test
    void dumpGradientsMatchTheFixture() {
        GradFixture f = GradFixture.load("f16_1l");
        java.util.List<String> hooks = java.util.List.of("blocks.0.attn.hook_z", "hook_embed", "ln_final.hook_scale");
        Gradients.HookGradients g = Gradients.forHooks(f.weights(), f.prompt(), "logprob:-2:17", hooks);
        assertEquals(java.util.List.of("grad:blocks.0.attn.hook_z", "grad:hook_embed", "grad:ln_final.hook_scale"), java.util.List.copyOf(g.tensors().keySet()));
        for (String h : hooks) {
            Tensor want = f.grads().get("grad[logprob:-2:17]." + h);
            assertTrue(g.tensors().get("grad:" + h).maxAbsDiff(want) < 1e-5, h);
        }
        assertEquals(f.grads().get("grad[logprob:-2:17].value").data()[0], g.value(), 1e-4);
        assertThrows(IllegalArgumentException.class, () -> Gradients.forHooks(f.weights(), f.prompt(), "logit_diff:99:1:2", hooks));
        assertThrows(IllegalArgumentException.class, () -> Gradients.forHooks(f.weights(), f.prompt(), "perplexity", hooks));
    }

    @org.junit.jupiter.api.Test
    void aBatchIsTheMeanOverItsRows() throws Exception {
        GradFixture f = GradFixture.load("attnonly_2l");
        int n = f.prompt().length;
        int[] other = f.prompt().clone();
        other[3] = (other[3] + 5) % f.config().dVocab();
        int[] both = new int[2 * n];
        System.arraycopy(f.prompt(), 0, both, 0, n);
        System.arraycopy(other, 0, both, n, n);
        try (Backprop bp = new Backprop(f.config(), 2)) {
            var w = bp.weightFeeds(f.weights());
            for (String m : f.metrics()) {
                Metric metric = Metric.parse(m);
                Backprop.Result a = bp.run(GradGraph.Spec.training(), w, f.prompt(), metric.ports(f.prompt(), 1, n, f.config().dVocab()));
                Backprop.Result b = bp.run(GradGraph.Spec.training(), w, other, metric.ports(other, 1, n, f.config().dVocab()));
                Backprop.Result ab = bp.run(GradGraph.Spec.training(), w, both, metric.ports(both, 2, n, f.config().dVocab()));
                assertEquals((a.metric() + b.metric()) / 2, ab.metric(), 1e-5, m);
                for (String name : f.weights().tensors().keySet()) {
                    String g = GradGraph.weightGrad(name);
                    float[] x = a.get(g).data(), y = b.get(g).data(), z = ab.get(g).data();
                    for (int i = 0; i < z.length; i++) assertEquals((x[i] + y[i]) / 2, z[i], 1e-5 + 1e-4 * Math.abs(z[i]), m + " " + name);
                }
            }
            w.values().forEach(OnnxTensor::close);
        }
    }

    @org.junit.jupiter.api.Test
    void dropoutMasksOfOnesChangeNothingAndZeroMasksCutTheBlocks() throws Exception {
        GradFixture f = GradFixture.load("odd_3l");
        int n = f.prompt().length, d = f.config().dModel();
        Metric metric = Metric.parse("loss");
        try (Backprop bp = new Backprop(f.config(), 2)) {
            var w = bp.weightFeeds(f.weights());
            Backprop.Result plain = bp.run(GradGraph.Spec.training(), w, f.prompt(), metric.ports(f.prompt(), 1, n, f.config().dVocab()));
            float[] ones = new float[n * d];
            java.util.Arrays.fill(ones, 1f);
            var feeds = new java.util.HashMap<>(w);
            java.util.List<OnnxTensor> masks = new java.util.ArrayList<>();
            for (String m : GradGraph.dropoutMasks(f.config())) {
                OnnxTensor t = bp.tensor(m.equals("dropout:embed") ? ones : new float[n * d], new int[]{1, n, d});
                masks.add(t);
                feeds.put(m, t);
            }
            // blocks dropped entirely: the model is embed -> ln_f -> unembed, blocks get no gradient through their outputs
            Backprop.Result cut = bp.run(GradGraph.Spec.trainingWithDropout(), feeds, f.prompt(), metric.ports(f.prompt(), 1, n, f.config().dVocab()));
            assertTrue(Math.abs(cut.metric() - plain.metric()) > 1e-3);
            for (float v : cut.get(GradGraph.weightGrad("h.1.mlp.c_fc.weight")).data()) assertEquals(0f, v);
            masks.forEach(OnnxTensor::close);
            masks.clear();
            for (String m : GradGraph.dropoutMasks(f.config())) {
                OnnxTensor t = bp.tensor(ones, new int[]{1, n, d});
                masks.add(t);
                feeds.put(m, t);
            }
            Backprop.Result same = bp.run(GradGraph.Spec.trainingWithDropout(), feeds, f.prompt(), metric.ports(f.prompt(), 1, n, f.config().dVocab()));
            assertEquals(plain.metric(), same.metric(), 1e-6);
            for (String name : f.weights().tensors().keySet())
                assertTrue(plain.get(GradGraph.weightGrad(name)).maxAbsDiff(same.get(GradGraph.weightGrad(name))) < 1e-6, name);
            masks.forEach(OnnxTensor::close);
            w.values().forEach(OnnxTensor::close);
        }
    }
}
