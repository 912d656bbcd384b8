package dev.loupe.grad;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import dev.loupe.model.GptWeights;
import dev.loupe.model.Tensor;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;

/** Gradients of a metric at hooks for one prompt: what {@code dump --grad METRIC} writes beside the activations. */
public final class Gradients {
    private Gradients() {}

    /**
     * @param metric  the parsed metric
     * @param value   its value on the prompt
     * @param tensors {@code grad:<hook>} → d metric / d hook, shaped like the hook with batch 1, in the order asked
     */
    public record HookGradients(Metric metric, float value, Map<String, Tensor> tensors) {}

    /** The dump's tensor name for the gradient at {@code hook}. */
    public static String tensorName(String hook) { return GradGraph.hookGrad(hook); }

    /**
     * d metric / d hook for every hook in {@code hooks} on one prompt ({@code tokens}, BOS included if wanted).
     *
     * @param metric {@code loss}, {@code logit_diff:POS:A:B} or {@code logprob:POS:A}
     * @throws IllegalArgumentException for an unknown metric or hook, or a position or token outside the prompt or vocabulary
     */
    public static HookGradients forHooks(GptWeights weights, int[] tokens, String metric, Collection<String> hooks) {
        try (Backprop bp = new Backprop(weights.config())) {
            Map<String, OnnxTensor> feeds = bp.weightFeeds(weights);
            try {
                return forHooks(bp, feeds, tokens, Metric.parse(metric), hooks);
            } finally {
                feeds.values().forEach(OnnxTensor::close);
            }
        } catch (OrtException e) {
            throw new IllegalStateException("gradient run failed: " + e.getMessage(), e);
        }
    }

    /** The same with a runner and weight feeds the caller keeps (several prompts or metrics). */
    public static HookGradients forHooks(Backprop bp, Map<String, OnnxTensor> feeds, int[] tokens, Metric metric, Collection<String> hooks) {
        Backprop.Result r = bp.run(new GradGraph.Spec(java.util.Set.of(), new LinkedHashSet<>(hooks), false), feeds, tokens,
                metric.ports(tokens, 1, tokens.length, bp.config().dVocab()));
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String h : hooks) out.put(tensorName(h), r.get(GradGraph.hookGrad(h)));
        return new HookGradients(metric, r.metric(), out);
    }
}
