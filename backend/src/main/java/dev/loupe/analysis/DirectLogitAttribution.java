package dev.loupe.analysis;

import dev.loupe.hooks.HookPoints;
import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.model.Tensor;
import dev.loupe.runtime.RunRequest;
import dev.loupe.runtime.RunResult;

import java.util.List;

/**
 * Direct logit attribution at one position: how much each component that writes to the residual stream adds to
 * logit(A) − logit(B) (or to logit(A) alone) through the final LayerNorm and the unembedding. The LayerNorm scale
 * is the real run's ({@code ln_final.hook_scale}); each component c contributes
 * {@code (c − mean(c)) / scale · (w_lnf ⊙ (W_E[A] − W_E[B]))}. The components are the token and position
 * embeddings, every head's {@code hook_result}, every attention output bias b_O, every {@code hook_mlp_out}, and
 * the final LayerNorm's bias term {@code b_lnf · (W_E[A] − W_E[B])}; together they sum exactly to the logit
 * difference.
 */
public final class DirectLogitAttribution {
    private DirectLogitAttribution() {}

    /**
     * @param heads      [layer][head] contributions
     * @param attnBias   [layer] contributions of the attention output bias
     * @param mlps       [layer] contributions of the MLPs (empty for attention-only models)
     * @param total      the sum of every contribution
     * @param logitDiff  logit(A) − logit(B) (or logit(A)) from the model's real output
     */
    public record Result(List<TokenInfo> tokens, int position, TokenInfo a, TokenInfo b,
                         double embed, double posEmbed, double[][] heads, double[] attnBias, double[] mlps,
                         double lnFinalBias, double total, double logitDiff, double logitA, Double logitB) {}

    /** @param b the second token, or null to attribute logit(A) alone */
    public static Result compute(Subject s, int[] ids, int position, int a, Integer b) {
        try (RunResult run = s.engine().run(RunRequest.of(ids).cacheRegex(HOOKS))) {
            return attribute(s, ids, position, a, b, run);
        }
    }

    /** The hooks {@link #attribute} reads. */
    static final String HOOKS = "^(hook_embed|hook_pos_embed|ln_final\\.hook_scale|blocks\\.\\d+\\.(attn\\.hook_result|hook_mlp_out))$";

    /** Attribution from a run that cached at least {@link #HOOKS}. */
    static Result attribute(Subject s, int[] ids, int position, int a, Integer b, RunResult run) {
        GptConfig c = s.config();
        GptWeights w = s.weights();
        int n = c.nLayers(), nh = c.nHeads(), d = c.dModel();

        double[] delta = unembedDirection(w, a, b);
        double[] u = new double[d];
        float[] lnw = w.get("ln_f.weight").data();
        for (int i = 0; i < d; i++) u[i] = lnw[i] * delta[i];
        double scale = run.get("ln_final.hook_scale").data()[position];

        double embed = contribution(Ops.row(run.get(HookPoints.EMBED), position), u, scale);
        double posEmbed = contribution(Ops.row(run.get(HookPoints.POS_EMBED), position), u, scale);
        double total = embed + posEmbed;
        double[][] heads = new double[n][nh];
        double[] attnBias = new double[n];
        double[] mlps = new double[c.attnOnly() ? 0 : n];
        double[] vec = new double[d];
        for (int l = 0; l < n; l++) {
            float[] result = run.get(HookPoints.name(l, "attn.hook_result")).data(); // [1, pos, head, d]
            for (int h = 0; h < nh; h++) {
                int off = (position * nh + h) * d;
                for (int i = 0; i < d; i++) vec[i] = result[off + i];
                heads[l][h] = contribution(vec, u, scale);
                total += heads[l][h];
            }
            attnBias[l] = contribution(toDouble(w.layer(l, "attn.c_proj.bias").data()), u, scale);
            total += attnBias[l];
            if (!c.attnOnly()) {
                mlps[l] = contribution(Ops.row(run.get(HookPoints.name(l, "hook_mlp_out")), position), u, scale);
                total += mlps[l];
            }
        }
        double lnFinalBias = Ops.dot(toDouble(w.get("ln_f.bias").data()), delta);
        total += lnFinalBias;

        float[] logits = run.logits().data();
        int off = position * c.dVocab();
        double logitA = logits[off + a];
        Double logitB = b == null ? null : (double) logits[off + b];
        double diff = logitB == null ? logitA : logitA - logitB;
        return new Result(s.tokens(ids), position, s.token(a), b == null ? null : s.token(b),
                embed, posEmbed, heads, attnBias, mlps, lnFinalBias, total, diff, logitA, logitB);
    }

    /** W_E[A] − W_E[B] (or W_E[A]): the unembedding direction of the metric. */
    static double[] unembedDirection(GptWeights w, int a, Integer b) {
        Tensor we = w.get("wte.weight");
        int d = we.dim(1);
        double[] delta = new double[d];
        float[] e = we.data();
        for (int i = 0; i < d; i++) delta[i] = e[a * d + i] - (b == null ? 0 : e[b * d + i]);
        return delta;
    }

    private static double contribution(double[] c, double[] u, double scale) {
        double m = Ops.mean(c);
        double s = 0;
        for (int i = 0; i < c.length; i++) s += (c[i] - m) * u[i];
        return s / scale;
    }

    private static double[] toDouble(float[] f) {
        double[] out = new double[f.length];
        for (int i = 0; i < f.length; i++) out[i] = f[i];
        return out;
    }
}
