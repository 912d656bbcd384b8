package dev.loupe.runtime;

import dev.loupe.hooks.Axis;
import dev.loupe.hooks.HookPoints;
import dev.loupe.model.Tensor;

import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * What a run returns, as padded batch tensors: logits [batch, pos, vocab] (null when the run stopped early or
 * logits were not asked for), the cached hooks, and the residual stream after the last block run (only when the
 * run stopped early). Padded positions hold meaningless values; {@link #prompt(int)} trims them away.
 *
 * <p>Tensors stay in ONNX Runtime's memory until first read, then live on the Java heap. Close the result (or
 * let the engine spill it) to free the native memory; tensors read before closing stay valid.
 */
public final class RunResult implements AutoCloseable {
    static final String LOGITS = "logits", RESIDUAL = "residual";

    private final HookPoints hooks;
    private final int[] lengths;
    private final List<String> cached;
    private final boolean hasLogits, hasResidual;
    private final Function<String, Tensor> source;
    private final Runnable closer;

    RunResult(HookPoints hooks, int[] lengths, List<String> cached, boolean hasLogits, boolean hasResidual,
              Function<String, Tensor> source, Runnable closer) {
        this.hooks = hooks;
        this.lengths = lengths;
        this.cached = List.copyOf(cached);
        this.hasLogits = hasLogits;
        this.hasResidual = hasResidual;
        this.source = source;
        this.closer = closer;
    }

    public int batchSize() { return lengths.length; }
    public int length(int row) { return lengths[row]; }
    public int[] lengths() { return lengths.clone(); }
    public Tensor logits() { return hasLogits ? source.apply(LOGITS) : null; }
    /** Residual stream after the last block run ([batch, pos, d_model]); null when the run went to the logits. */
    public Tensor residual() { return hasResidual ? source.apply(RESIDUAL) : null; }
    /** Names of the cached hooks, in forward order. */
    public List<String> cachedHooks() { return cached; }
    public boolean has(String hook) { return cached.contains(hook); }

    public Tensor get(String hook) {
        if (!cached.contains(hook)) throw new IllegalArgumentException("hook '" + hook + "' is not in this cache");
        return source.apply(hook);
    }

    /** The cache as a map in forward order; each tensor is copied out when first read. */
    public Map<String, Tensor> cache() {
        return new AbstractMap<>() {
            @Override public Tensor get(Object key) { return key instanceof String s && cached.contains(s) ? source.apply(s) : null; }
            @Override public boolean containsKey(Object key) { return cached.contains(key); }
            @Override public int size() { return cached.size(); }
            @Override public Set<String> keySet() { return java.util.Collections.unmodifiableSet(new java.util.LinkedHashSet<>(cached)); }
            @Override public Set<Entry<String, Tensor>> entrySet() {
                return new AbstractSet<>() {
                    @Override public int size() { return cached.size(); }
                    @Override public Iterator<Entry<String, Tensor>> iterator() {
                        Iterator<String> names = cached.iterator();
                        return new Iterator<>() {
                            @Override public boolean hasNext() { return names.hasNext(); }
                            @Override public Entry<String, Tensor> next() {
                                String n = names.next();
                                return new SimpleImmutableEntry<>(n, source.apply(n));
                            }
                        };
                    }
                };
            }
        };
    }

    /** Row {@code i} alone, trimmed to its prompt's length (batch dimension kept, of size 1), on the heap. */
    public RunResult prompt(int i) {
        int len = lengths[i];
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (String h : cached) m.put(h, trimRow(source.apply(h), hooks.get(h).axes(), i, len));
        List<Axis> resid = List.of(Axis.BATCH, Axis.POS, Axis.D_MODEL);
        if (hasLogits) m.put(LOGITS, trimRow(logits(), resid, i, len));
        if (hasResidual) m.put(RESIDUAL, trimRow(residual(), resid, i, len));
        return new RunResult(hooks, new int[]{len}, cached, hasLogits, hasResidual, m::get, () -> {});
    }

    /** Every row, trimmed. */
    public List<RunResult> prompts() {
        List<RunResult> out = new ArrayList<>();
        for (int i = 0; i < lengths.length; i++) out.add(prompt(i));
        return out;
    }

    /** Frees native memory; tensors not read before are gone afterwards. */
    @Override public void close() { closer.run(); }

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
}
