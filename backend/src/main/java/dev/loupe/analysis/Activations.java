package dev.loupe.analysis;

import dev.loupe.hooks.HookPoint;
import dev.loupe.hooks.HookPoints;
import dev.loupe.model.Tensor;
import dev.loupe.runtime.RunRequest;
import dev.loupe.runtime.RunResult;

import java.util.List;

/** One hook's activation for one prompt, as the engine computes it (batch axis of 1), with its axis names. */
public final class Activations {
    private Activations() {}

    /** @param axes the hook's axes (batch, pos, d_model, …) */
    public record Result(String hook, List<String> axes, int[] shape, Tensor tensor) {}

    /** The hooks of a model with their axes, in forward order. */
    public static List<HookPoint> hooks(Subject s) { return HookPoints.of(s.config()).all(); }

    public static Result compute(Subject s, int[] ids, String hook) {
        HookPoints points = HookPoints.of(s.config());
        if (!points.contains(hook))
            throw new IllegalArgumentException("unknown hook '" + hook + "': see the hooks endpoint for the names, e.g. "
                    + HookPoints.name(0, "attn.hook_pattern"));
        HookPoint p = points.get(hook);
        // stop after the hook's block: later layers and the unembedding are not needed
        RunRequest req = RunRequest.of(ids).cache(hook::equals);
        if (p.layer() < s.config().nLayers()) req = req.stopAfter(Math.max(0, p.layer()));
        try (RunResult run = s.engine().run(req)) {
            Tensor t = run.get(hook);
            Tensor copy = new Tensor(t.data().clone(), t.shape());
            return new Result(hook, p.axes().stream().map(a -> a.name().toLowerCase(java.util.Locale.ROOT)).toList(), t.shape(), copy);
        }
    }
}
