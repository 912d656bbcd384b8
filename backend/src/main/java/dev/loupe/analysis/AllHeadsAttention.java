package dev.loupe.analysis;

import dev.loupe.hooks.HookPoints;
import dev.loupe.model.GptConfig;
import dev.loupe.model.Tensor;
import dev.loupe.runtime.RunRequest;
import dev.loupe.runtime.RunResult;

import java.util.ArrayList;
import java.util.List;

/**
 * Every head's attention pattern at once, plain or value-weighted. The value-weighted pattern of head h is
 * A[q][k] · ‖v_k W_O^h‖: how much of what key k writes into the residual stream reaches query q through the head,
 * so a head that attends to a token whose value it then mostly cancels (often BOS) shows little there.
 */
public final class AllHeadsAttention {
    private AllHeadsAttention() {}

    /** @param patterns [layer][head][query][key]; @param valueNorms [layer][head][key] ‖v_k W_O^h‖ (null when plain) */
    public record Result(List<TokenInfo> tokens, boolean valueWeighted, List<float[][][]> patterns, List<float[][]> valueNorms) {}

    public static Result compute(Subject s, int[] ids, boolean valueWeighted) {
        GptConfig c = s.config();
        int t = ids.length, nh = c.nHeads(), dh = c.dHead(), dm = c.dModel();
        List<float[][][]> patterns = new ArrayList<>();
        List<float[][]> norms = valueWeighted ? new ArrayList<>() : null;
        String hooks = valueWeighted ? "attn\\.hook_(pattern|v)$" : "attn\\.hook_pattern$";
        try (RunResult run = s.engine().run(RunRequest.of(ids).cacheRegex(hooks).stopAfter(c.nLayers() - 1))) {
            for (int l = 0; l < c.nLayers(); l++) {
                float[] a = run.get(HookPoints.name(l, "attn.hook_pattern")).data(); // [1, head, q, k]
                float[][] norm = null;
                if (valueWeighted) {
                    float[] v = run.get(HookPoints.name(l, "attn.hook_v")).data(); // [1, pos, head, d_head]
                    float[] wo = s.weights().layer(l, "attn.c_proj.weight").data(); // [d_model (heads × d_head), d_model]
                    norm = new float[nh][t];
                    double[] out = new double[dm];
                    for (int h = 0; h < nh; h++) {
                        for (int k = 0; k < t; k++) {
                            java.util.Arrays.fill(out, 0);
                            for (int j = 0; j < dh; j++) {
                                double vj = v[(k * nh + h) * dh + j];
                                int row = (h * dh + j) * dm;
                                for (int m = 0; m < dm; m++) out[m] += vj * wo[row + m];
                            }
                            double sq = 0;
                            for (double x : out) sq += x * x;
                            norm[h][k] = (float) Math.sqrt(sq);
                        }
                    }
                    norms.add(norm);
                }
                float[][][] layer = new float[nh][t][t];
                for (int h = 0; h < nh; h++)
                    for (int q = 0; q < t; q++)
                        for (int k = 0; k <= q; k++) {
                            float p = a[(h * t + q) * t + k];
                            layer[h][q][k] = norm == null ? p : p * norm[h][k];
                        }
                patterns.add(layer);
            }
        }
        return new Result(s.tokens(ids), valueWeighted, patterns, norms);
    }
}
