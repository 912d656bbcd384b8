package dev.loupe.analysis;

import dev.loupe.model.GptConfig;
import dev.loupe.runtime.Engine;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** Every head's pattern, plain and value-weighted, against the PyTorch reference's hook_pattern, hook_v and W_O. */
class AllHeadsAttentionTest {
    static Golden golden;
    static Engine engine;

    @BeforeAll
    static void setUp() {
        golden = Golden.load("odd_3l");
        engine = Engine.create(golden.weights());
    }

    @AfterAll
    static void tearDown() { engine.close(); }

    @Test
    void patternsAndValueWeightedPatternsMatchTheReference() {
        GptConfig c = golden.config();
        int nh = c.nHeads(), dh = c.dHead(), dm = c.dModel();
        for (int p = 0; p < golden.prompts().size(); p++) {
            int[] ids = golden.prompts().get(p);
            int t = ids.length;
            var plain = AllHeadsAttention.compute(golden.subject(engine), ids, false);
            var weighted = AllHeadsAttention.compute(golden.subject(engine), ids, true);
            assertNull(plain.valueNorms());
            for (int l = 0; l < c.nLayers(); l++) {
                float[] a = golden.hooks().get(p).get("blocks." + l + ".attn.hook_pattern").data();
                float[] v = golden.hooks().get(p).get("blocks." + l + ".attn.hook_v").data();
                float[] wo = golden.weights().layer(l, "attn.c_proj.weight").data();
                for (int h = 0; h < nh; h++) {
                    for (int k = 0; k < t; k++) {
                        // ‖v_k W_O^h‖ from the reference's values, in double
                        double sq = 0;
                        for (int m = 0; m < dm; m++) {
                            double x = 0;
                            for (int j = 0; j < dh; j++) x += v[(k * nh + h) * dh + j] * (double) wo[(h * dh + j) * dm + m];
                            sq += x * x;
                        }
                        double norm = Math.sqrt(sq);
                        assertEquals(norm, weighted.valueNorms().get(l)[h][k], 1e-4 * Math.max(1, norm));
                        for (int q = k; q < t; q++) {
                            double ref = a[(h * t + q) * t + k];
                            assertEquals(ref, plain.patterns().get(l)[h][q][k], 1e-4);
                            assertEquals(ref * norm, weighted.patterns().get(l)[h][q][k], 1e-4 * Math.max(1, norm));
                        }
                    }
                }
            }
        }
    }
}
