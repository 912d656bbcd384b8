package dev.loupe.patching;

import ai.onnxruntime.OnnxTensor;
import dev.loupe.grad.Backprop;
import dev.loupe.jobs.Progress;
import dev.loupe.model.GptConfig;
import dev.loupe.runtime.Engine;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Several sweeps in one request, stacked along a leading {@code component} axis, as TransformerLens's
 * {@code get_act_patch_block_every} ({@code every_block}: resid_pre, attn_out, mlp_out → [3, layer, pos]) and
 * {@code get_act_patch_attn_head_all_pos_every} ({@code every_head}: output, q, k, v, pattern → [5, layer, head]);
 * {@code every_head_by_pos} is the same by position → [5, layer, pos, head]. Attention-only models have no
 * mlp_out component.
 */
public final class PatchingPanels {
    public static final List<String> NAMES = List.of("every_block", "every_head", "every_head_by_pos");

    private PatchingPanels() {}

    public static boolean isPanel(String name) { return name != null && NAMES.contains(name.trim()); }

    /** The component sweeps of a panel for a model. */
    public static List<Sweep> components(String panel, GptConfig c) {
        List<String> names = switch (panel.trim()) {
            case "every_block" -> c.attnOnly() ? List.of("resid_pre", "attn_out") : List.of("resid_pre", "attn_out", "mlp_out");
            case "every_head" -> Sweep.HEAD_SWEEPS;
            case "every_head_by_pos" -> Sweep.HEAD_SWEEPS.stream().map(s -> s + "_by_pos").toList();
            default -> throw new IllegalArgumentException("unknown panel '" + panel + "': use one of " + NAMES);
        };
        return names.stream().map(n -> Sweep.parse(n, c)).toList();
    }

    /**
     * Runs every component sweep of {@code panel} and stacks them: axes {@code ["component", ...]}, values and
     * (when {@code bp} is given) attribution row-major in the stacked shape. {@code meanText}: as in
     * {@link ActivationPatching#prepare(Engine, List, List, Sweep, PatchMode, int[])}.
     */
    public static PatchingResult run(Engine engine, List<PromptPair> pairs, List<PatchMetric> metrics, String panel, PatchMode mode,
                                     int[] meanText, int chunkRows, Progress progress, Backprop bp, Map<String, OnnxTensor> feeds) {
        List<Sweep> parts = components(panel, engine.config());
        List<float[]> values = new ArrayList<>(), attribution = new ArrayList<>();
        PatchingResult last = null;
        for (int k = 0; k < parts.size(); k++) {
            ActivationPatching run = ActivationPatching.prepare(engine, pairs, metrics, parts.get(k), mode, meanText);
            last = run.sweep(chunkRows, part(progress, k, parts.size(), parts.get(k).name()));
            values.add(last.values());
            if (bp != null) attribution.add(run.attribution(bp, feeds));
        }
        int[] one = last.shape(), shape = new int[one.length + 1];
        shape[0] = parts.size();
        System.arraycopy(one, 0, shape, 1, one.length);
        List<String> axes = new ArrayList<>(List.of("component"));
        axes.addAll(last.axes());
        return new PatchingResult(panel.trim(), last.mode(), last.metric(), axes, shape, concat(values), last.cleanMetric(), last.corruptMetric(),
                bp == null ? null : concat(attribution));
    }

    /** Patched runs of a panel: the sum of its sweeps' rows. */
    public static long rows(String panel, GptConfig c, int len, int pairs) {
        long n = 0;
        for (Sweep s : components(panel, c)) n += (long) s.sites(c, len).size() * pairs;
        return n;
    }

    private static float[] concat(List<float[]> parts) {
        int n = 0;
        for (float[] p : parts) n += p.length;
        float[] out = new float[n];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    /** Component {@code k} of {@code n}'s share of the overall progress. */
    private static Progress part(Progress overall, int k, int n, String name) {
        return new Progress() {
            @Override public void report(double fraction, String message) { overall.report((k + fraction) / n, name + ": " + message); }
            @Override public boolean cancelled() { return overall.cancelled(); }
        };
    }
}
