package dev.loupe.analysis;

import dev.loupe.hooks.HookPoints;
import dev.loupe.model.GptConfig;
import dev.loupe.runtime.RunRequest;
import dev.loupe.runtime.RunResult;

/**
 * Direct logit attribution of every head split by source position: which earlier token a head's contribution to
 * logit(A) − logit(B) at a position came from. A head's output at query q is Σ_s A[q, s] · v_s W_O^h, and the
 * attribution is linear in it, so the contribution of source s is {@code A[q, s] · v_s W_O^h · (u − ū) / scale}
 * with u = w_lnf ⊙ (W_E[A] − W_E[B]) and the real run's final LayerNorm scale; the sources of a head sum to its
 * direct logit attribution.
 */
public final class DlaBySource {
    private DlaBySource() {}

    /**
     * @param dla     the whole attribution at the position (heads, MLPs, embeddings, biases)
     * @param sources [layer][head][source] contributions, sources 0..position
     */
    public record Result(DirectLogitAttribution.Result dla, double[][][] sources) {}

    public static Result compute(Subject s, int[] ids, int position, int a, Integer b) {
        try (RunResult run = s.engine().run(RunRequest.of(ids).cacheRegex(DirectLogitAttribution.HOOKS
                + "|^blocks\\.\\d+\\.attn\\.hook_(pattern|v)$"))) {
            var dla = DirectLogitAttribution.attribute(s, ids, position, a, b, run);
            return new Result(dla, split(s, ids.length, position, a, b, run));
        }
    }

    private static double[][][] split(Subject s, int t, int position, int a, Integer b, RunResult run) {
        GptConfig c = s.config();
        int n = c.nLayers(), nh = c.nHeads(), d = c.dModel(), dh = d / nh;
        double[] delta = DirectLogitAttribution.unembedDirection(s.weights(), a, b);
        float[] lnw = s.weights().get("ln_f.weight").data();
        // (x − mean(x)) · u = x · (u − ū): centring moves onto the direction
        double[] uc = new double[d];
        for (int i = 0; i < d; i++) uc[i] = lnw[i] * delta[i];
        double mean = Ops.mean(uc);
        for (int i = 0; i < d; i++) uc[i] -= mean;
        double scale = run.get("ln_final.hook_scale").data()[position];

        double[][][] out = new double[n][nh][position + 1];
        for (int l = 0; l < n; l++) {
            float[] wo = s.weights().layer(l, "attn.c_proj.weight").data(); // [d, d], row h·dh + e
            float[] pattern = run.get(HookPoints.name(l, "attn.hook_pattern")).data(); // [1, head, q, k]
            float[] v = run.get(HookPoints.name(l, "attn.hook_v")).data(); // [1, pos, head, dh]
            for (int h = 0; h < nh; h++) {
                double[] w = new double[dh]; // W_O^h (u − ū)
                for (int e = 0; e < dh; e++) {
                    int row = (h * dh + e) * d;
                    double acc = 0;
                    for (int i = 0; i < d; i++) acc += wo[row + i] * uc[i];
                    w[e] = acc;
                }
                int prow = (h * t + position) * t;
                for (int src = 0; src <= position; src++) {
                    int voff = (src * nh + h) * dh;
                    double vw = 0;
                    for (int e = 0; e < dh; e++) vw += v[voff + e] * w[e];
                    out[l][h][src] = pattern[prow + src] * vw / scale;
                }
            }
        }
        return out;
    }
}
