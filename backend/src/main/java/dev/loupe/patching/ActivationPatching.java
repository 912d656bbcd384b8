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
import dev.loupe.runtime.Selector;

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
    /** The metric of each pair (a dataset's pairs have their own answer tokens); every one reads the same position. */
    private final List<PatchMetric> metrics;
    private final Sweep sweep;
    private final PatchMode mode;
    private final int len, pairs;
    private final List<Sweep.Site> sites;
    private final int[][] baseTokens;
    /** Per pair: the base run's cache (sweep hooks and every resid_pre), and the values patched in (null: zero). */
    private final List<Map<String, Tensor>> base = new ArrayList<>(), source = new ArrayList<>();
    private final float[][] cleanLogp;
    /** Per pair: the metric of the unpatched base run. */
    private final double[] baseValue;
    private final double cleanMetric, corruptMetric;

    private ActivationPatching(Engine engine, List<PromptPair> pairList, List<PatchMetric> metrics, Sweep sweep, PatchMode mode, int[] meanText) {
        this.engine = engine;
        this.config = engine.config();
        this.metrics = metrics;
        this.sweep = sweep;
        this.mode = mode;
        this.pairs = pairList.size();
        this.len = pairList.get(0).clean().length;
        this.sites = sweep.sites(config, len);
        this.baseTokens = new int[pairs][];
        this.cleanLogp = new float[pairs][];
        this.baseValue = new double[pairs];

        Set<String> cached = new LinkedHashSet<>();
        for (int l = 0; l < config.nLayers(); l++) cached.add(HookPoints.name(l, "hook_resid_pre"));
        for (int l : sweep.layers(config)) cached.add(sweep.hookName(l));
        if (sweep.kind() == Sweep.Kind.PATH) // what step 2 freezes: every head's output, and the MLPs' when asked
            for (int l = 0; l < config.nLayers(); l++) {
                cached.add(HookPoints.name(l, "attn.hook_z"));
                if (sweep.frozenMlps()) cached.add(HookPoints.name(l, "hook_mlp_out"));
            }
        List<Map<String, Tensor>> clean = new ArrayList<>(), corrupt = new ArrayList<>();
        double cm = 0, km = 0;
        int at = metrics.get(0).position(len);
        for (int i = 0; i < pairs; i++) {
            PromptPair p = pairList.get(i);
            PatchMetric metric = metrics.get(i);
            Tensor cl, kl;
            clean.add(cacheOf(p.clean(), cached));
            corrupt.add(cacheOf(p.corrupt(), cached));
            cl = clean.get(i).get(RunLogits.KEY);
            kl = corrupt.get(i).get(RunLogits.KEY);
            cleanLogp[i] = metric.kind() == PatchMetric.Kind.LOSS ? null : PatchMetric.logSoftmax(cl, at);
            double cv = metric.value(RunLogits.at(cl, at), 0, p.clean(), cleanLogp[i]);
            double kv = metric.value(RunLogits.at(kl, at), 0, p.corrupt(), cleanLogp[i]);
            cm += cv;
            km += kv;
            baseValue[i] = mode == PatchMode.DENOISE ? kv : cv;
        }
        this.cleanMetric = cm / pairs;
        this.corruptMetric = km / pairs;

        Map<String, Tensor> mean = mode != PatchMode.MEAN ? null : meanText == null ? means(clean, cached) : textMeans(meanText, sweep);
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
        return prepare(engine, pairs, java.util.Collections.nCopies(pairs.size(), metric), sweep, mode);
    }

    /** The same with one metric per pair (the same kind and position, each pair's own answer tokens). */
    public static ActivationPatching prepare(Engine engine, List<PromptPair> pairs, List<PatchMetric> metrics, Sweep sweep, PatchMode mode) {
        return prepare(engine, pairs, metrics, sweep, mode, null);
    }

    /**
     * The same where the mean ablation takes its mean over the positions of {@code meanText} (token ids, run through
     * the model on their own) instead of over the pairs' clean prompts; null: over the pairs.
     */
    public static ActivationPatching prepare(Engine engine, List<PromptPair> pairs, List<PatchMetric> metrics, Sweep sweep, PatchMode mode,
                                             int[] meanText) {
        check(engine.config(), pairs, metrics, sweep);
        if (meanText != null) checkMeanText(engine.config(), sweep, meanText);
        return new ActivationPatching(engine, pairs, List.copyOf(metrics), sweep, mode, meanText);
    }

    /**
     * The checks of a text to take the mean ablation's mean over: not empty, within the context, known tokens, and a
     * sweep whose activations have a position axis (an attention pattern's shape depends on the prompt's length).
     */
    public static void checkMeanText(GptConfig c, Sweep sweep, int[] text) {
        if (text.length == 0) throw new IllegalArgumentException("the mean text is empty: give a text to take the mean over");
        if (text.length > c.nCtx())
            throw new IllegalArgumentException("the mean text is " + text.length + " tokens, more than the context of " + c.nCtx());
        for (int id : text)
            if (id < 0 || id >= c.dVocab()) throw new IllegalArgumentException("unknown token id " + id + " in the mean text: the vocabulary is 0.." + (c.dVocab() - 1));
        for (int l : sweep.layers(c))
            if (sweep.hookName(l).endsWith("hook_pattern"))
                throw new IllegalArgumentException("sweep " + sweep.name() + " patches attention patterns, which have no mean over a text of another length: "
                        + "use the mean over the pairs (no mean text)");
    }

    /** The checks of {@link #prepare}, without running anything. */
    public static void check(GptConfig c, List<PromptPair> pairs, PatchMetric metric, Sweep sweep) {
        check(c, pairs, java.util.Collections.nCopies(pairs.size(), metric), sweep);
    }

    /** The checks of {@link #prepare} with one metric per pair; messages name the pair when there are several. */
    public static void check(GptConfig c, List<PromptPair> pairs, List<PatchMetric> metrics, Sweep sweep) {
        if (metrics.size() != pairs.size()) throw new IllegalArgumentException(metrics.size() + " metrics for " + pairs.size() + " pairs");
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
            PatchMetric m = metrics.get(i);
            if (m.kind() != metrics.get(0).kind() || m.pos() != metrics.get(0).pos())
                throw new IllegalArgumentException("pair " + i + ": every pair's metric must be of the same kind and position");
            try {
                m.check(len, c.dVocab());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(e.getMessage() + which, e);
            }
            for (int[] t : List.of(p.clean(), p.corrupt())) {
                if (t.length == 0) throw new IllegalArgumentException("a prompt is empty" + which);
                if (t.length > c.nCtx()) throw new IllegalArgumentException("a prompt is " + t.length + " tokens, more than the context of " + c.nCtx());
                for (int id : t)
                    if (id < 0 || id >= c.dVocab()) throw new IllegalArgumentException("unknown token id " + id + which + ": the vocabulary is 0.." + (c.dVocab() - 1));
            }
        }
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
        return (int) Math.max(1, Math.min(1024, bytes / perRow)); // at most 1024: cancel and progress stay responsive
    }

    private long hookElements() {
        HookPoint hp = engine.hooks().get(sweep.hookName(sweep.layers(config).get(0)));
        return Tensor.numel(hp.shape(config, 1, len));
    }

    /** The sweep with {@code chunkRows} rows per batch (0: bounded by {@link #DEFAULT_CHUNK_BYTES}). */
    public PatchingResult sweep(int chunkRows, Progress progress) {
        int chunk = chunkRows > 0 ? chunkRows : chunkRows(DEFAULT_CHUNK_BYTES);
        if (sweep.kind() == Sweep.Kind.PATH) return pathSweep(Math.max(1, chunk / 2), progress);
        float[] values = new float[sites.size()];
        chunks(chunk, progress, "patched", (layer, first, start, n) -> {
            int[] rowPair = rowPairs(start, n);
            List<Patch> patches = new ArrayList<>(n);
            for (int j = 0; j < n; j++) {
                Sweep.Site site = sites.get(first + (start + j) / pairs);
                patches.add(new Patch(site.hook(), site.selector(j), source.get(rowPair[j]).get(site.hook())));
            }
            RunRequest req = RunRequest.fromResidual(layer, perRow(base, HookPoints.name(layer, "hook_resid_pre"), rowPair)).patches(patches);
            addMetrics(values, metricLogits(req), first, start, rowPair);
        });
        return result(values);
    }

    /** One chunk of a sweep: rows {@code start..start+n-1} of the layer whose indices begin at site {@code first}. */
    private interface Chunk {
        void run(int layer, int first, int start, int n);
    }

    /**
     * Cuts the sweep's rows (index × pair, row r is index r / pairs of pair r % pairs) into chunks of at most
     * {@code chunk} rows within one layer, checking for cancellation and reporting progress after each.
     */
    private void chunks(int chunk, Progress progress, String verb, Chunk body) {
        long total = rows(), done = 0;
        for (int first = 0; first < sites.size(); ) {
            int layer = sites.get(first).layer(), end = first;
            while (end < sites.size() && sites.get(end).layer() == layer) end++;
            int rows = (end - first) * pairs;
            for (int start = 0; start < rows; start += chunk) {
                progress.checkCancelled();
                int n = Math.min(chunk, rows - start);
                body.run(layer, first, start, n);
                done += n;
                progress.report((double) done / total, verb + " " + done + " of " + total + " runs");
            }
            first = end;
        }
    }

    private int[] rowPairs(int start, int n) {
        int[] rowPair = new int[n];
        for (int j = 0; j < n; j++) rowPair[j] = (start + j) % pairs;
        return rowPair;
    }

    /** Adds each row's metric, over the number of pairs, to the index it patched. */
    private void addMetrics(float[] values, Tensor logits, int first, int start, int[] rowPair) {
        for (int j = 0; j < rowPair.length; j++) {
            int pair = rowPair[j];
            values[first + (start + j) / pairs] += (float) (metrics.get(pair).value(logits, j, baseTokens[pair], cleanLogp[pair]) / pairs);
        }
    }

    private PatchingResult result(float[] values) {
        return new PatchingResult(sweep.name(), mode.label(), metrics.get(0).toString(), sweep.axes(), sweep.shape(config, len), values,
                cleanMetric, corruptMetric, null);
    }

    /** A run's logits at the positions the metric reads: [rows, 1, vocab], or [rows, pos, vocab] for the loss. */
    private Tensor metricLogits(RunRequest req) {
        int at = metrics.get(0).position(len), L = config.nLayers();
        if (at < 0) {
            try (RunResult r = engine.run(req)) {
                return r.logits();
            }
        }
        Tensor last;
        try (RunResult r = engine.run(req.stopAfter(L - 1))) {
            last = RunLogits.at(r.residual(), at);
        }
        try (RunResult u = engine.run(RunRequest.fromResidual(L, last))) {
            return u.logits();
        }
    }

    /**
     * Path patching from every sender head (a {@code path:} sweep) or MLP ({@code path_mlp:}). Step 2 runs the base
     * prompt from the sender's layer with the sender's {@code hook_z} (or {@code hook_mlp_out}) from the source and
     * every other head's {@code hook_z} frozen to the base run, so the change reaches later layers only along the
     * residual stream and through the MLPs, which are recomputed, or frozen too with {@code :frozen}; for the
     * logits that run is measured. For q/k/v receivers step 3 runs the base prompt again with
     * only the receiver heads' q/k/v taken from step 2. Senders in or after the last receiver's layer change nothing.
     */
    private PatchingResult pathSweep(int chunk, Progress progress) {
        Sweep.Receivers recv = sweep.receivers();
        int last = recv.lastLayer(config), d = config.dModel(), L = config.nLayers();
        Set<String> inputs = new LinkedHashSet<>();
        for (int[] h : recv.heads()) inputs.add(HookPoints.name(h[0], "attn.hook_" + recv.input()));
        int firstReceiver = recv.logits() ? L : recv.heads().stream().mapToInt(h -> h[0]).min().orElse(L);
        float[] values = new float[sites.size()];
        chunks(chunk, progress, "path-patched", (layer, first, start, n) -> {
            int[] rowPair = rowPairs(start, n);
            if (layer >= last) {
                for (int j = 0; j < n; j++) values[first + (start + j) / pairs] += (float) (baseValue[rowPair[j]] / pairs);
            } else {
                List<Patch> patches = new ArrayList<>();
                for (int l = layer; l < Math.min(L, last + 1); l++) {
                    List<String> frozen = sweep.frozenMlps() ? List.of("attn.hook_z", "hook_mlp_out") : List.of("attn.hook_z");
                    for (String local : frozen) {
                        String hook = HookPoints.name(l, local);
                        // a patch value of batch 1 broadcasts over the rows
                        patches.add(new Patch(hook, Selector.all(), pairs == 1 ? base.get(0).get(hook) : perRow(base, hook, rowPair)));
                    }
                }
                // the senders after the freezing: a later patch of the same element wins
                for (int j = 0; j < n; j++) {
                    Sweep.Site site = sites.get(first + (start + j) / pairs);
                    Selector rows = site.head() >= 0 ? Selector.rows(j).withHeads(site.head()) : Selector.rows(j);
                    patches.add(new Patch(site.hook(), rows, source.get(rowPair[j]).get(site.hook())));
                }
                RunRequest step2 = RunRequest.fromResidual(layer, perRow(base, HookPoints.name(layer, "hook_resid_pre"), rowPair)).patches(patches);
                Tensor logits;
                if (recv.logits()) logits = metricLogits(step2);
                else {
                    Map<String, Tensor> in = new HashMap<>();
                    try (RunResult r = engine.run(step2.cache(inputs::contains).stopAfter(last).withoutLogits())) {
                        for (String h : inputs) in.put(h, r.get(h));
                    }
                    List<Patch> step3 = new ArrayList<>();
                    for (int[] h : recv.heads()) {
                        String hook = HookPoints.name(h[0], "attn.hook_" + recv.input());
                        step3.add(new Patch(hook, Selector.heads(h[1]), in.get(hook)));
                    }
                    logits = metricLogits(RunRequest.fromResidual(firstReceiver,
                            perRow(base, HookPoints.name(firstReceiver, "hook_resid_pre"), rowPair)).patches(step3));
                }
                addMetrics(values, logits, first, start, rowPair);
            }
        });
        return result(values);
    }

    /** Each row's pair's cached hook as one [rows, ...] tensor. */
    private static Tensor perRow(List<Map<String, Tensor>> caches, String hook, int[] rowPair) {
        Tensor one = caches.get(0).get(hook);
        if (rowPair.length == 1) return caches.get(rowPair[0]).get(hook);
        int size = one.size();
        float[] out = new float[size * rowPair.length];
        for (int j = 0; j < rowPair.length; j++) System.arraycopy(caches.get(rowPair[j]).get(hook).data(), 0, out, j * size, size);
        int[] shape = one.shape().clone();
        shape[0] = rowPair.length;
        return new Tensor(out, shape);
    }

    /**
     * Attribution patching for the same indices: {@code (a_source − a_base) · ∂metric/∂a} at the base run, summed
     * over each index's elements, from one backward pass per pair ({@code bp} and {@code weights} from the caller).
     */
    public float[] attribution(Backprop bp, Map<String, OnnxTensor> weights) {
        if (sweep.kind() == Sweep.Kind.PATH) throw new IllegalArgumentException("attribution patching has no estimate for path patching");
        Set<String> hooks = new LinkedHashSet<>();
        for (int l : sweep.layers(config)) hooks.add(sweep.hookName(l));
        GradGraph.Spec spec = new GradGraph.Spec(Set.of(), hooks, false);
        float[] out = new float[sites.size()];
        for (int i = 0; i < pairs; i++) {
            PatchMetric metric = metrics.get(i);
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

    /** The mean over every position of {@code text}'s own run, repeated at each of the prompts' positions. */
    private Map<String, Tensor> textMeans(int[] text, Sweep sweep) {
        Set<String> hooks = new LinkedHashSet<>();
        for (int l : sweep.layers(config)) hooks.add(sweep.hookName(l));
        Map<String, Tensor> run = cacheOf(text, hooks), m = new HashMap<>();
        for (String h : hooks) {
            HookPoint hp = engine.hooks().get(h);
            if (hp.axisIndex(Axis.POS) != 1) throw new IllegalStateException(h + " has no leading position axis");
            float[] v = run.get(h).data();
            int rest = v.length / text.length; // [1, pos, rest...]: every hook here has its position axis first
            float[] avg = new float[rest];
            for (int p = 0; p < text.length; p++) for (int k = 0; k < rest; k++) avg[k] += v[p * rest + k] / text.length;
            float[] full = new float[rest * len];
            for (int p = 0; p < len; p++) System.arraycopy(avg, 0, full, p * rest, rest);
            m.put(h, new Tensor(full, hp.shape(config, 1, len)));
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
