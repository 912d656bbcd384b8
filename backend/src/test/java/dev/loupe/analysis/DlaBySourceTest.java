package dev.loupe.analysis;

import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.model.Tensor;
import dev.loupe.runtime.Engine;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

class DlaBySourceTest {

    @Test
    void theSourcesOfAHeadSumToItsDirectLogitAttribution() {
        GptConfig[] configs = {
                new GptConfig(2, 4, 32, 128, 24, 97, false, 1e-5),
                new GptConfig(3, 2, 16, 0, 16, 40, true, 1e-5),
        };
        SplittableRandom rnd = new SplittableRandom(3);
        for (int ci = 0; ci < configs.length; ci++) {
            GptConfig c = configs[ci];
            GptWeights w = DirectLogitAttributionTest.scaled(GptWeights.random(c, 5 + ci, true), 25);
            try (Engine e = Engine.create(w)) {
                Subject s = new Subject(e, w, Golden.tokenizer(c.dVocab()));
                for (int trial = 0; trial < 4; trial++) {
                    int[] ids = rnd.ints(2 + rnd.nextInt(c.nCtx() - 1), 0, c.dVocab()).toArray();
                    int pos = rnd.nextInt(ids.length);
                    int a = rnd.nextInt(c.dVocab());
                    Integer b = trial % 2 == 0 ? null : rnd.nextInt(c.dVocab());
                    var r = DlaBySource.compute(s, ids, pos, a, b);
                    var plain = DirectLogitAttribution.compute(s, ids, pos, a, b);
                    for (int l = 0; l < c.nLayers(); l++)
                        for (int h = 0; h < c.nHeads(); h++) {
                            assertEquals(pos + 1, r.sources()[l][h].length);
                            double sum = 0;
                            for (double v : r.sources()[l][h]) sum += v;
                            assertEquals(r.dla().heads()[l][h], sum, 1e-5 * Math.max(1, Math.abs(sum)), "config " + ci + " head " + l + "." + h);
                            assertEquals(plain.heads()[l][h], r.dla().heads()[l][h], 1e-9);
                        }
                }
            }
        }
    }

    /** Each source's share from the PyTorch reference's pattern and values and the weights, by hand. */
    @Test
    void everySourceMatchesTheReferenceHooks() {
        for (String name : new String[]{"odd_3l", "gpt2vocab_2l"}) {
            Golden g = Golden.load(name);
            GptConfig c = g.config();
            int d = c.dModel(), nh = c.nHeads(), dh = d / nh;
            try (Engine e = Engine.create(g.weights())) {
                Subject s = g.subject(e);
                for (int pi = 0; pi < g.prompts().size(); pi++) {
                    int[] ids = g.prompts().get(pi);
                    int t = ids.length, pos = t - 1;
                    Map<String, Tensor> ref = g.hooks().get(pi);
                    int a = 3 % c.dVocab(), b = 17 % c.dVocab();
                    var r = DlaBySource.compute(s, ids, pos, a, b);
                    float[] we = g.weights().get("wte.weight").data(), lnw = g.weights().get("ln_f.weight").data();
                    double scale = ref.get("ln_final.hook_scale").data()[pos];
                    for (int l = 0; l < c.nLayers(); l++) {
                        float[] wo = g.weights().layer(l, "attn.c_proj.weight").data();
                        Tensor pat = ref.get("blocks." + l + ".attn.hook_pattern"), v = ref.get("blocks." + l + ".attn.hook_v");
                        for (int h = 0; h < nh; h++)
                            for (int src = 0; src <= pos; src++) {
                                // the source's vector in the residual stream: A[pos, src] · v_src W_O^h, then the folded DLA
                                double[] x = new double[d];
                                for (int i = 0; i < d; i++)
                                    for (int k = 0; k < dh; k++) x[i] += pat.get(0, h, pos, src) * v.get(0, src, h, k) * wo[(h * dh + k) * d + i];
                                double mean = Ops.mean(x), dot = 0;
                                for (int i = 0; i < d; i++) dot += (x[i] - mean) * lnw[i] * ((double) we[a * d + i] - we[b * d + i]);
                                assertEquals(dot / scale, r.sources()[l][h][src], 1e-4 * Math.max(1, Math.abs(dot / scale)),
                                        name + " prompt " + pi + " head " + l + "." + h + " source " + src);
                            }
                    }
                }
            }
        }
    }
}
