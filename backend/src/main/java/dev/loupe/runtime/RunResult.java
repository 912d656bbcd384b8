package dev.loupe.runtime;

import dev.loupe.hooks.Axis;
import dev.loupe.hooks.HookPoints;
import dev.loupe.model.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a run returns, as padded batch tensors: logits [batch, pos, vocab] (null when the run stopped early or
 * logits were not asked for), the cached hooks, and the residual stream after the last block run (only when the
 * run stopped early). Padded positions hold meaningless values; {@link #prompt(int)} trims them away.
 */
public final class RunResult {
    private final HookPoints hooks;
    private final int[] lengths;
    private final Tensor logits;
    private final Tensor residual;
    private final Map<String, Tensor> cache;

    RunResult(HookPoints hooks, int[] lengths, Tensor logits, Tensor residual, Map<String, Tensor> cache) {
        this.hooks = hooks;
        this.lengths = lengths;
        this.logits = logits;
        this.residual = residual;
        this.cache = Collections.unmodifiableMap(cache);
    }

    public int batchSize() { return lengths.length; }
    public int length(int row) { return lengths[row]; }
    public int[] lengths() { return lengths.clone(); }
    public Tensor logits() { return logits; }
    /** Residual stream after the last block run ([batch, pos, d_model]); null when the run went to the logits. */
    public Tensor residual() { return residual; }
    public Map<String, Tensor> cache() { return cache; }

    public Tensor get(String hook) {
        Tensor t = cache.get(hook);
        if (t == null) throw new IllegalArgumentException("hook '" + hook + "' is not in this cache");
        return t;
    }

    /** Row {@code i} alone, trimmed to its prompt's length (batch dimension kept, of size 1). */
    public RunResult prompt(int i) {
        int len = lengths[i];
        Map<String, Tensor> c = new LinkedHashMap<>();
        for (var e : cache.entrySet()) c.put(e.getKey(), trimRow(e.getValue(), hooks.get(e.getKey()).axes(), i, len));
        List<Axis> resid = List.of(Axis.BATCH, Axis.POS, Axis.D_MODEL);
        return new RunResult(hooks, new int[]{len},
                logits == null ? null : trimRow(logits, resid, i, len),
                residual == null ? null : trimRow(residual, resid, i, len), c);
    }

    /** Every row, trimmed. */
    public List<RunResult> prompts() {
        List<RunResult> out = new ArrayList<>();
        for (int i = 0; i < lengths.length; i++) out.add(prompt(i));
        return out;
    }

    static Tensor trimRow(Tensor t, List<Axis> axes, int row, int len) {
        Tensor r = t.select(row);
        int[] keep = r.shape();
        for (int k = 1; k < axes.size(); k++) if (axes.get(k).isPosition()) keep[k - 1] = len;
        Tensor cropped = r.crop(keep);
        int[] withBatch = new int[keep.length + 1];
        withBatch[0] = 1;
        System.arraycopy(keep, 0, withBatch, 1, keep.length);
        return cropped.reshape(withBatch);
    }

    /** Unused hooks are absent; handy for checks. */
    public boolean has(String hook) { return cache.containsKey(hook); }
}
