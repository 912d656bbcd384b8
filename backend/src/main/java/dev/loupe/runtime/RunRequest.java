package dev.loupe.runtime;

import dev.loupe.hooks.HookPoints;
import dev.loupe.model.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * One forward pass over a batch: prompts of any lengths (right-padded internally) or a residual stream to start
 * from at a layer; the hooks to cache; patches; where to stop. Built fluently:
 * {@code RunRequest.of(ids).cache(HookPoints.regex("hook_pattern")).patch(p).stopAfter(3)}.
 */
public final class RunRequest {
    final List<int[]> prompts;
    final Tensor startResidual;
    final int startLayer;
    final int[] startLengths;
    Predicate<String> cacheFilter = n -> false;
    final List<Patch> patches = new ArrayList<>();
    int stopAfter = -1;
    boolean logits = true;

    private RunRequest(List<int[]> prompts, int startLayer, Tensor startResidual, int[] startLengths) {
        this.prompts = prompts;
        this.startLayer = startLayer;
        this.startResidual = startResidual;
        this.startLengths = startLengths;
    }

    /** A batch of token-id prompts (BOS already included where wanted). */
    public static RunRequest of(int[]... prompts) { return of(List.of(prompts)); }

    public static RunRequest of(List<int[]> prompts) {
        if (prompts.isEmpty()) throw new IllegalArgumentException("a run needs at least one prompt");
        List<int[]> copy = new ArrayList<>();
        for (int[] p : prompts) copy.add(p.clone());
        return new RunRequest(copy, 0, null, null);
    }

    /**
     * Starts at block {@code layer} from its {@code hook_resid_pre} value [batch, pos, d_model] (e.g. from a cache);
     * {@code lengths} gives each row's real length when rows are padded (none: all rows are full length).
     */
    public static RunRequest fromResidual(int layer, Tensor residual, int... lengths) {
        if (residual.rank() != 3) throw new IllegalArgumentException("residual must be [batch, pos, d_model], got " + residual);
        int[] lens = lengths.length == 0 ? filled(residual.dim(0), residual.dim(1)) : lengths.clone();
        if (lens.length != residual.dim(0)) throw new IllegalArgumentException(lens.length + " lengths for " + residual.dim(0) + " rows");
        for (int len : lens)
            if (len < 1 || len > residual.dim(1)) throw new IllegalArgumentException("length " + len + " outside [1, " + residual.dim(1) + "]");
        return new RunRequest(null, layer, residual, lens);
    }

    private static int[] filled(int n, int v) {
        int[] a = new int[n];
        java.util.Arrays.fill(a, v);
        return a;
    }

    /** Caches the hooks whose names pass {@code filter} (only those are materialised and copied). */
    public RunRequest cache(Predicate<String> filter) {
        this.cacheFilter = filter;
        return this;
    }

    /** Caches hooks whose name contains a match of {@code regex}. */
    public RunRequest cacheRegex(String regex) { return cache(HookPoints.regex(regex)); }

    public RunRequest cacheAll() { return cache(n -> true); }

    public RunRequest patch(Patch... p) {
        patches.addAll(List.of(p));
        return this;
    }

    public RunRequest patches(List<Patch> p) {
        patches.addAll(p);
        return this;
    }

    /** Stops after block {@code layer}: no later block, no unembedding; the result holds the residual stream. */
    public RunRequest stopAfter(int layer) {
        this.stopAfter = layer;
        return this;
    }

    /** Leaves the logits out of the result (they are still computed unless the run stops early). */
    public RunRequest withoutLogits() {
        this.logits = false;
        return this;
    }

    int batch() { return prompts != null ? prompts.size() : startResidual.dim(0); }

    int[] lengths() {
        if (prompts == null) return startLengths.clone();
        int[] l = new int[prompts.size()];
        for (int i = 0; i < l.length; i++) l[i] = prompts.get(i).length;
        return l;
    }
}
