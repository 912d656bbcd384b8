package dev.loupe.patching;

import ai.onnxruntime.OnnxTensor;
import dev.loupe.grad.Backprop;
import dev.loupe.grad.GradGraph;
import dev.loupe.hooks.Axis;
import dev.loupe.hooks.HookPoint;
import dev.loupe.hooks.HookPoints;
import dev.loupe.jobs.Progress;
import dev.loupe.model.GptConfig;
import dev.loupe.model.Tensor;
import dev.loupe.runtime.Engine;
import dev.loupe.runtime.Patch;
import dev.loupe.runtime.RunRequest;
import dev.loupe.runtime.RunResult;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Activation patching sweeps on the engine (DESIGN §8). Where TransformerLens runs one hooked forward pass per
 * index, a sweep here is a batch with one patch per row: the rows of a layer's indices start at that layer from
 * the cached {@code resid_pre} of their run, are cut into chunks bounded in memory, and only the positions the
 * metric reads are unembedded. With several prompt pairs every index is measured on each and averaged.
 *
 * <p>{@link #prepare} runs the clean and corrupted prompts once; {@link #sweep} and {@link #attribution} then use
 * those caches.
 */
public final class ActivationPatching {
    /** Default bound on the activations of one chunk of rows. */
    public static final long DEFAULT_CHUNK_BYTES = 256L << 20;

    private final Engine engine;
    private final GptConfig config;
    private final PatchMetric metric;
    private final Sweep sweep;
    private final PatchMode mode;
    private final int len, pairs;
    private final List<Sweep.Site> sites;
    private final int[][] baseTokens;
    /** Per pair: the base run's cache (sweep hooks and every resid_pre), and the values patched in (null: zero). */
    private final List<Map<String, Tensor>> base = new ArrayList<>(), source = new ArrayList<>();
    private final float[][] cleanLogp;
    private final double cleanMetric, corruptMetric;

    private ActivationPatching(Engine engine, List<PromptPair> pairList, PatchMetric metric, Sweep sweep, PatchMode mode) {
        this.engine = engine;
        this.config = engine.config();
        this.metric = metric;
        this.sweep = sweep;
        this.mode = mode;
        this.pairs = pairList.size();
        this.len = pairList.get(0).clean().length;
        this.sites = sweep.sites(config, len);
        this.baseTokens = new int[pairs][];
        this.cleanLogp = new float[pairs][];

        Set<String> cached = new LinkedHashSet<>();
        for (int l = 0; l < config.nLayers(); l++) cached.add(HookPoints.name(l, "hook_resid_pre"));
        for (int l : sweep.layers(config)) cached.add(sweep.hookName(l));
        List<Map<String, Tensor>> clean = new ArrayList<>(), corrupt = new ArrayList<>();
        double cm = 0, km = 0;
        int at = metric.position(len);
        for (int i = 0; i < pairs; i++) {
            PromptPair p = pairList.get(i);
            Tensor cl, kl;
            clean.add(cacheOf(p.clean(), cached));
            corrupt.add(cacheOf(p.corrupt(), cached));
            cl = clean.get(i).get(RunLogits.KEY);
            kl = corrupt.get(i).get(RunLogits.KEY);
            cleanLogp[i] = metric.kind() == PatchMetric.Kind.LOSS ? null : PatchMetric.logSoftmax(cl, at);
            cm += metric.value(RunLogits.at(cl, at), 0, p.clean(), cleanLogp[i]);
            km += metric.value(RunLogits.at(kl, at), 0, p.corrupt(), cleanLogp[i]);
        }
        this.cleanMetric = cm / pairs;
        this.corruptMetric = km / pairs;

        Map<String, Tensor> mean = mode == PatchMode.MEAN ? means(clean, cached) : null;
        for (int i = 0; i < pairs; i++) {
            boolean denoise = mode == PatchMode.DENOISE;
            baseTokens[i] = denoise ? pairList.get(i).corrupt() : pairList.get(i).clean();
            base.add(denoise ? corrupt.get(i) : clean.get(i));
            source.add(switch (mode) {
                case DENOISE -> clean.get(i);
                case NOISE -> corrupt.get(i);
                case ZERO -> Map.of();
                case MEAN -> mean;
                case RESAMPLE -> pairs > 1 ? clean.get((i + 1) % pairs) : corrupt.get(i);
            });
        }
    }

    /**
     * Runs the clean and corrupted prompts of every pair once and checks the request.
     *
     * @throws IllegalArgumentException naming the problem: lengths that differ, a metric position or token outside
     *                                  the prompt or vocabulary, a sweep the model does not have
     */
    public static ActivationPatching prepare(Engine engine, List<PromptPair> pairs, PatchMetric metric, Sweep sweep, PatchMode mode) {
        check(engine.config(), pairs, metric, sweep);
        return new ActivationPatching(engine, pairs, metric, sweep, mode);
    }

    /** The checks of {@link #prepare}, without running anything. */
    public static void check(GptConfig c, List<PromptPair> pairs, PatchMetric metric, Sweep sweep) {
        if (pairs.isEmpty()) throw new IllegalArgumentException("no prompt pairs given");
        int len = pairs.get(0).clean().length;
        for (int i = 0; i < pairs.size(); i++) {
            PromptPair p = pairs.get(i);
            String which = pairs.size() > 1 ? " (pair " + i + ")" : "";
            if (p.clean().length != p.corrupt().length)
                throw new IllegalArgumentException("the clean prompt is " + p.clean().length + " tokens and the corrupted prompt " + p.corrupt().length
                        + " tokens" + which + ": they must have the same length");
            if (p.clean().length != len)
                throw new IllegalArgumentException("every pair must have the same length: pair 0 has " + len + " tokens, pair " + i + " " + p.clean().length);
            for (int[] t : List.of(p.clean(), p.corrupt())) {
                if (t.length == 0) throw new IllegalArgumentException("a prompt is empty" + which);
                if (t.length > c.nCtx()) throw new IllegalArgumentException("a prompt is " + t.length + " tokens, more than the context of " + c.nCtx());
                for (int id : t)
                    if (id < 0 || id >= c.dVocab()) throw new IllegalArgumentException("unknown token id " + id + which + ": the vocabulary is 0.." + (c.dVocab() - 1));
            }
        }
        metric.check(len, c.dVocab());
        sweep.check(len);
    }

    public double cleanMetric() { return cleanMetric; }
    public double corruptMetric() { return corruptMetric; }
    public int length() { return len; }
    /** Patched runs the sweep makes (indices × pairs). */
    public long rows() { return (long) sites.size() * pairs; }

    /** Rows per chunk so that one chunk's activations stay within {@code bytes}. */
    public int chunkRows(long bytes) {
        GptConfig c = config;
        long perRow = 4L * len * (8L * c.dModel() + 3L * c.dMlp() + 4L * c.nHeads() * len) + 5L * hookElements();
        return (int) Math.max(1, Math.min(4096, bytes / perRow));
    }

    private long hookElements() {
        HookPoint hp = engine.hooks().get(sweep.hookName(sweep.layers(config).get(0)));
        return Tensor.numel(hp.shape(config, 1, len));
    }

    /** The sweep with {@code chunkRows} rows per batch (0: bounded by {@link #DEFAULT_CHUNK_BYTES}). */
    public PatchingResult sweep(int chunkRows, Progress progress) {
        int chunk = chunkRows > 0 ? chunkRows : chunkRows(DEFAULT_CHUNK_BYTES);
        float[] values = new float[sites.size()];
        long total = rows(), done = 0;
        int at = metric.position(len), d = config.dModel(), L = config.nLayers();
        for (int first = 0; first < sites.size(); ) {
            int layer = sites.get(first).layer(), end = first;
            while (end < sites.size() && sites.get(end).layer() == layer) end++;
            int rows = (end - first) * pairs;
            for (int start = 0; start < rows; start += chunk) {
                progress.checkCancelled();
                int n = Math.min(chunk, rows - start);
                float[] resid = new float[n * len * d];
                List<Patch> patches = new ArrayList<>(n);
                for (int j = 0; j < n; j++) {
                    int r = start + j, pair = r % pairs;
                    Sweep.Site site = sites.get(first + r / pairs);
                    System.arraycopy(base.get(pair).get(HookPoints.name(layer, "hook_resid_pre")).data(), 0, resid, j * len * d, len * d);
                    patches.add(new Patch(site.hook(), site.selector(j), source.get(pair).get(site.hook())));
                }
                RunRequest req = RunRequest.fromResidual(layer, new Tensor(resid, n, len, d)).patches(patches);
                Tensor logits;
                if (at >= 0) {
                    Tensor last;
                    try (RunResult r = engine.run(req.stopAfter(L - 1))) {
                        last = RunLogits.at(r.residual(), at);
                    }
                    try (RunResult u = engine.run(RunRequest.fromResidual(L, last))) {
                        logits = u.logits();
                    }
                } else {
                    try (RunResult r = engine.run(req)) {
                        logits = r.logits();
                    }
                }
                for (int j = 0; j < n; j++) {
                    int r = start + j, pair = r % pairs;
                    values[first + r / pairs] += (float) (metric.value(logits, j, baseTokens[pair], cleanLogp[pair]) / pairs);
                }
                done += n;
                progress.report((double) done / total, "patched " + done + " of " + total + " runs");
            }
            first = end;
        }
        return new PatchingResult(sweep.name(), mode.label(), metric.toString(), sweep.axes(), sweep.shape(config, len), values,
                cleanMetric, corruptMetric, null);
    }

    /**
     * Attribution patching for the same indices: {@code (a_source − a_base) · ∂metric/∂a} at the base run, summed
     * over each index's elements, from one backward pass per pair ({@code bp} and {@code weights} from the caller).
     */
    public float[] attribution(Backprop bp, Map<String, OnnxTensor> weights) {
        Set<String> hooks = new LinkedHashSet<>();
        for (int l : sweep.layers(config)) hooks.add(sweep.hookName(l));
        GradGraph.Spec spec = new GradGraph.Spec(Set.of(), hooks, false);
        float[] out = new float[sites.size()];
        for (int i = 0; i < pairs; i++) {
            Backprop.Result r = bp.run(spec, weights, baseTokens[i], metric.gradientPorts(baseTokens[i], config.dVocab(), cleanLogp[i]));
            double scale = metric.gradientScale(r.metric()) / pairs;
            for (int l : sweep.layers(config)) {
                String h = sweep.hookName(l);
                accumulate(out, l, engine.hooks().get(h), base.get(i).get(h), source.get(i).get(h), r.get(GradGraph.hookGrad(h)), scale);
            }
        }
        return out;
    }

    /** Adds scale·(s − a)·g of every element of one layer's hook [1, ...] to the site it belongs to. */
    private void accumulate(float[] out, int layer, HookPoint hp, Tensor a, Tensor s, Tensor g, double scale) {
        int[] shape = a.shape();
        List<Axis> axes = hp.axes();
        int rank = shape.length;
        int[] idx = new int[rank];
        float[] av = a.data(), gv = g.data(), sv = s == null ? null : s.data();
        for (int e = 0; e < av.length; e++) {
            int pos = 0, head = 0, feature = idx[rank - 1];
            for (int k = 1; k < rank; k++) {
                Axis ax = axes.get(k);
                if (ax == Axis.POS || ax == Axis.QUERY_POS) pos = idx[k];
                else if (ax == Axis.HEAD) head = idx[k];
            }
            int site = sweep.siteOf(config, len, layer, pos, head, feature);
            if (site >= 0) out[site] += (float) (scale * ((sv == null ? 0f : sv[e]) - av[e]) * gv[e]);
            for (int k = rank - 1; k >= 0 && ++idx[k] == shape[k]; k--) idx[k] = 0;
        }
    }

    private Map<String, Tensor> cacheOf(int[] tokens, Set<String> hooks) {
        Map<String, Tensor> m = new HashMap<>();
        try (RunResult r = engine.run(RunRequest.of(tokens).cache(hooks::contains))) {
            for (String h : hooks) m.put(h, r.get(h));
            m.put(RunLogits.KEY, r.logits());
        }
        return m;
    }

    /** The mean over every pair's clean prompt and position (over pairs only for attention patterns), full shape. */
    private Map<String, Tensor> means(List<Map<String, Tensor>> clean, Set<String> hooks) {
        Map<String, Tensor> m = new HashMap<>();
        for (String h : hooks) {
            HookPoint hp = engine.hooks().get(h);
            Tensor first = clean.get(0).get(h);
            float[] sum = new float[first.size()];
            for (Map<String, Tensor> c : clean) {
                float[] v = c.get(h).data();
                for (int k = 0; k < sum.length; k++) sum[k] += v[k] / clean.size();
            }
            int posAxis = hp.axisIndex(Axis.POS);
            if (posAxis > 0) { // average over positions too: [1, pos, rest] rows
                int rest = sum.length / len;
                float[] avg = new float[rest];
                for (int p = 0; p < len; p++) for (int k = 0; k < rest; k++) avg[k] += sum[p * rest + k] / len;
                for (int p = 0; p < len; p++) System.arraycopy(avg, 0, sum, p * rest, rest);
            }
            m.put(h, new Tensor(sum, first.shape()));
        }
        return m;
    }
}
