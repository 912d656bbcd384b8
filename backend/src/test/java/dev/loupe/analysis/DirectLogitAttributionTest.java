package dev.loupe.analysis;

import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.model.Tensor;
import dev.loupe.runtime.Engine;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class DirectLogitAttributionTest {

    private static double sum(DirectLogitAttribution.Result r) {
        double s = r.embed() + r.posEmbed() + r.lnFinalBias();
        for (double[] l : r.heads()) for (double v : l) s += v;
        for (double v : r.attnBias()) s += v;
        for (double v : r.mlps()) s += v;
        return s;
    }

    @Test
    void contributionsSumToTheLogitDifferenceOnRandomModels() {
        GptConfig[] configs = {
                new GptConfig(2, 4, 32, 128, 24, 97, false, 1e-5),
                new GptConfig(3, 2, 16, 0, 16, 40, true, 1e-5),
                new GptConfig(1, 3, 24, 50, 12, 31, false, 1e-5),
        };
        SplittableRandom rnd = new SplittableRandom(7);
        for (int ci = 0; ci < configs.length; ci++) {
            GptConfig c = configs[ci];
            GptWeights w = scaled(GptWeights.random(c, 11 + ci, true), 25);
            try (Engine e = Engine.create(w)) {
                Subject s = new Subject(e, w, Golden.tokenizer(c.dVocab()));
                for (int trial = 0; trial < 4; trial++) {
                    int[] ids = rnd.ints(1 + rnd.nextInt(c.nCtx()), 0, c.dVocab()).toArray();
                    int pos = rnd.nextInt(ids.length);
                    int a = rnd.nextInt(c.dVocab()), b = rnd.nextInt(c.dVocab());
                    var r = DirectLogitAttribution.compute(s, ids, pos, a, b);
                    assertEquals(r.logitDiff(), sum(r), 1e-4, "config " + ci + " trial " + trial);
                    assertEquals(r.total(), sum(r), 1e-9);
                    assertEquals(c.attnOnly() ? 0 : c.nLayers(), r.mlps().length);
                    var alone = DirectLogitAttribution.compute(s, ids, pos, a, null);
                    assertNull(alone.b());
                    assertEquals(alone.logitA(), sum(alone), 1e-4);
                    assertEquals(r.logitA(), alone.logitDiff(), 1e-6);
                }
            }
        }
    }

    /** Every component against a computation from the PyTorch reference's own hooks, in the folded form. */
    @Test
    void everyComponentMatchesTheReferenceHooks() {
        for (String name : new String[]{"gpt2vocab_2l", "odd_3l", "attnonly_2l"}) {
            Golden g = Golden.load(name);
            GptConfig c = g.config();
            try (Engine e = Engine.create(g.weights())) {
                Subject s = g.subject(e);
                for (int p = 0; p < g.prompts().size(); p++) {
                    int[] ids = g.prompts().get(p);
                    Map<String, Tensor> ref = g.hooks().get(p);
                    int pos = ids.length - 1;
                    int a = 3 % c.dVocab(), b = 17 % c.dVocab();
                    var r = DirectLogitAttribution.compute(s, ids, pos, a, b);

                    int d = c.dModel();
                    float[] we = g.weights().get("wte.weight").data();
                    float[] lnw = g.weights().get("ln_f.weight").data();
                    double[] u = new double[d];
                    double usum = 0;
                    for (int i = 0; i < d; i++) {
                        u[i] = lnw[i] * ((double) we[a * d + i] - we[b * d + i]);
                        usum += u[i];
                    }
                    final double uSum = usum;
                    double scale = ref.get("ln_final.hook_scale").data()[pos];
                    // folded form: (c·u − mean(c)·Σu) / scale
                    java.util.function.BiFunction<float[], Integer, Double> folded = (vec, off) -> {
                        double dot = 0, mean = 0;
                        for (int i = 0; i < d; i++) {
                            dot += vec[off + i] * u[i];
                            mean += vec[off + i];
                        }
                        return (dot - mean / d * uSum) / scale;
                    };
                    double tol = 2e-3;
                    assertEquals(folded.apply(ref.get("hook_embed").data(), pos * d), r.embed(), tol, name + " embed");
                    assertEquals(folded.apply(ref.get("hook_pos_embed").data(), pos * d), r.posEmbed(), tol, name + " pos");
                    for (int l = 0; l < c.nLayers(); l++) {
                        float[] res = ref.get("blocks." + l + ".attn.hook_result").data();
                        for (int h = 0; h < c.nHeads(); h++)
                            assertEquals(folded.apply(res, (pos * c.nHeads() + h) * d), r.heads()[l][h], tol, name + " head " + l + "." + h);
                        assertEquals(folded.apply(g.weights().layer(l, "attn.c_proj.bias").data(), 0), r.attnBias()[l], tol, name + " b_O " + l);
                        if (!c.attnOnly())
                            assertEquals(folded.apply(ref.get("blocks." + l + ".hook_mlp_out").data(), pos * d), r.mlps()[l], tol, name + " mlp " + l);
                    }
                    float[] logits = ref.get("logits").data();
                    double diff = logits[pos * c.dVocab() + a] - logits[pos * c.dVocab() + b];
                    assertEquals(diff, r.logitDiff(), tol, name + " logit diff");
                    assertEquals(r.logitDiff(), r.total(), 1e-4, name + " identity");
                }
            }
        }
    }

    /** Larger weights than GPT-2's 0.02 init, so logits differ by more than rounding noise. */
    static GptWeights scaled(GptWeights w, float factor) {
        Map<String, Tensor> out = new java.util.LinkedHashMap<>();
        for (var e : w.tensors().entrySet()) {
            Tensor t = e.getValue().copy();
            if (!e.getKey().contains("ln_") && e.getKey().endsWith("weight")) for (int i = 0; i < t.size(); i++) t.data()[i] *= factor;
            out.put(e.getKey(), t);
        }
        try {
            return GptWeights.of(w.config(), out);
        } catch (dev.loupe.model.WeightsException e) {
            throw new IllegalStateException(e);
        }
    }
}
