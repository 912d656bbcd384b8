package dev.loupe.grad;

import ai.onnxruntime.OnnxTensor;
import dev.loupe.hooks.HookPoints;
import dev.loupe.model.GptConfig;
import dev.loupe.model.Tensor;

import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * Attribution patching: the first-order (linear) estimate of what patching an activation from a corrupted prompt
 * into the clean run does to a metric, {@code (a_corrupt − a_clean) · ∂metric/∂a} at the clean activations, for
 * every site at once — from one forward run of each prompt and one backward run of the clean prompt.
 *
 * <p>Sites: the residual stream entering each layer and leaving the last ({@code blocks.l.hook_resid_pre},
 * then the last {@code hook_resid_post}) by position; each head's output ({@code attn.hook_z}, which gives the same
 * products as the per-head {@code attn.hook_result}: result = z·W_O[h]) by position; and each MLP neuron
 * ({@code mlp.hook_post}) by position.
 */
public final class AttributionPatching {

    /**
     * @param residual [n_layers + 1, pos]: row l is the residual stream entering layer l, the last row leaves the last layer
     * @param heads    [n_layers, pos, n_heads]
     * @param neurons  [n_layers, pos, d_mlp] (null for attention-only models)
     */
    public record Result(Metric metric, float cleanMetric, float corruptMetric, Tensor residual, Tensor heads, Tensor neurons) {}

    private AttributionPatching() {}

    private static String residHook(GptConfig c, int l) {
        return l < c.nLayers() ? HookPoints.name(l, "hook_resid_pre") : HookPoints.name(c.nLayers() - 1, "hook_resid_post");
    }

    public static Result run(Backprop bp, Map<String, OnnxTensor> weights, int[] clean, int[] corrupt, Metric metric) {
        if (clean.length != corrupt.length)
            throw new IllegalArgumentException("clean and corrupted prompts must have the same length (" + clean.length + " vs " + corrupt.length + ")");
        GptConfig c = bp.config();
        int n = clean.length, L = c.nLayers(), H = c.nHeads(), dh = c.dHead();
        Set<String> hooks = new LinkedHashSet<>();
        for (int l = 0; l <= L; l++) hooks.add(residHook(c, l));
        for (int l = 0; l < L; l++) {
            hooks.add(HookPoints.name(l, "attn.hook_z"));
            if (!c.attnOnly()) hooks.add(HookPoints.name(l, "mlp.hook_post"));
        }
        Backprop.Result bad = bp.run(new GradGraph.Spec(hooks, Set.of(), false), weights, corrupt, metric.ports(corrupt, 1, n, c.dVocab()));
        Backprop.Result good = bp.run(new GradGraph.Spec(hooks, hooks, false), weights, clean, metric.ports(clean, 1, n, c.dVocab()));

        Tensor resid = Tensor.zeros(L + 1, n);
        for (int l = 0; l <= L; l++) {
            String h = residHook(c, l);
            float[] s = scores(good, bad, h, n, 1, c.dModel());
            System.arraycopy(s, 0, resid.data(), l * n, n);
        }
        Tensor heads = Tensor.zeros(L, n, H);
        for (int l = 0; l < L; l++) {
            float[] s = scores(good, bad, HookPoints.name(l, "attn.hook_z"), n, H, dh);
            System.arraycopy(s, 0, heads.data(), l * n * H, n * H);
        }
        Tensor neurons = null;
        if (!c.attnOnly()) {
            neurons = Tensor.zeros(L, n, c.dMlp());
            for (int l = 0; l < L; l++) {
                float[] s = scores(good, bad, HookPoints.name(l, "mlp.hook_post"), n, c.dMlp(), 1);
                System.arraycopy(s, 0, neurons.data(), l * n * c.dMlp(), s.length);
            }
        }
        return new Result(metric, good.metric(), bad.metric(), resid, heads, neurons);
    }

    /** Σ over the innermost {@code inner} elements of (corrupt − clean) · grad, for [pos, units, inner] hooks of batch 1. */
    private static float[] scores(Backprop.Result good, Backprop.Result bad, String hook, int n, int units, int inner) {
        float[] a = good.get(GradGraph.hookValue(hook)).data(), b = bad.get(GradGraph.hookValue(hook)).data(), g = good.get(GradGraph.hookGrad(hook)).data();
        float[] out = new float[n * units];
        for (int i = 0; i < out.length; i++) {
            double s = 0;
            for (int k = i * inner; k < (i + 1) * inner; k++) s += (double) (b[k] - a[k]) * g[k];
            out[i] = (float) s;
        }
        return out;
    }
}
