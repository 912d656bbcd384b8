package dev.loupe.runtime;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.loupe.compiler.CompiledGraph;
import dev.loupe.compiler.GraphCompiler;
import dev.loupe.compiler.GraphSpec;
import dev.loupe.compiler.Ports;
import dev.loupe.compiler.Stages;
import dev.loupe.hooks.HookPoint;
import dev.loupe.hooks.HookPoints;
import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.model.Tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.lang.ref.WeakReference;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Runs a GPT-2-family model: forward passes with a filtered cache, patches, start at / stop after a layer and
 * batches of prompts of different lengths. Graphs are compiled per stage (embed, each block, unembed) and per
 * variant (hooks returned, hooks patched) on first use; the stages are chained through ONNX Runtime tensors
 * without copies to the heap, and only cached hooks are copied out. Safe for concurrent callers.
 */
public final class Engine implements AutoCloseable {
    private final GptConfig config;
    private final HookPoints hooks;
    private final EngineOptions options;
    private final OrtEnvironment env;
    private final Map<String, OnnxTensor> weightInputs = new HashMap<>();
    private final GraphCompiler compiler;
    private final SessionCache sessions;
    /** The {@link GraphCompiler#topLogits} graph per k, compiled on first use. */
    private final Map<Integer, SessionCache.Compiled> topGraphs = new java.util.concurrent.ConcurrentHashMap<>();
    private final ReentrantReadWriteLock closing = new ReentrantReadWriteLock();
    /** Open results, oldest first, and the bytes they leave unread in native memory. */
    private final ArrayDeque<WeakReference<RunOutputs>> live = new ArrayDeque<>();
    private final AtomicLong liveBytes = new AtomicLong();
    private boolean closed;

    private Engine(GptWeights weights, EngineOptions options) {
        this.config = weights.config();
        this.hooks = HookPoints.of(config);
        this.options = options;
        this.env = OrtRuntime.env(options.threads());
        if (options.weightMode() == GraphCompiler.WeightMode.INPUTS) {
            try {
                for (var e : weights.tensors().entrySet()) weightInputs.put(e.getKey(), floatTensor(e.getValue()));
            } catch (RuntimeException ex) {
                weightInputs.values().forEach(OnnxTensor::close);
                throw ex;
            }
        }
        this.compiler = new GraphCompiler(config, weights, options.weightMode());
        this.sessions = new SessionCache(compiler, env, options);
    }

    public static Engine create(GptWeights weights) { return new Engine(weights, EngineOptions.defaults()); }
    public static Engine create(GptWeights weights, EngineOptions options) { return new Engine(weights, options); }

    public GptConfig config() { return config; }
    public HookPoints hooks() { return hooks; }
    public EngineOptions options() { return options; }

    /** Graph variants compiled so far (for tests and monitoring). */
    public int compiledVariants() { return sessions.compilations(); }

    /** Logits [1, pos, vocab] of one prompt. */
    public Tensor logits(int... tokens) { return run(RunRequest.of(tokens)).logits(); }

    /** One prompt with the hooks that {@code filter} selects cached. */
    public RunResult runWithCache(int[] tokens, java.util.function.Predicate<String> filter) {
        return run(RunRequest.of(tokens).cache(filter));
    }

    public RunResult run(RunRequest req) {
        closing.readLock().lock();
        try {
            if (closed) throw new IllegalStateException("engine is closed");
            return execute(req);
        } catch (OrtException e) {
            throw new EngineException("ONNX Runtime failed: " + e.getMessage(), e);
        } finally {
            closing.readLock().unlock();
        }
    }

    private RunResult execute(RunRequest req) throws OrtException {
        int batch = req.batch();
        int[] lengths = req.lengths();
        int maxLen = 0;
        for (int len : lengths) maxLen = Math.max(maxLen, len);
        int first = req.prompts != null ? Stages.EMBED : checkStart(req.startLayer);
        int last = req.stopAfter >= 0 ? checkStop(req.stopAfter, req) : Stages.unembed(config);
        if (req.prompts != null) checkPrompts(req.prompts, maxLen);
        else if (req.startResidual.dim(2) != config.dModel())
            throw new IllegalArgumentException("residual has d_model " + req.startResidual.dim(2) + ", the model " + config.dModel());

        Map<String, List<Patch>> patches = groupPatches(req.patches, first, last);
        Set<String> cached = new HashSet<>();
        for (HookPoint h : hooks.all()) {
            int s = Stages.ofHookLayer(h.layer());
            if (s >= first && s <= last && req.cacheFilter.test(h.name())) cached.add(h.name());
        }

        enforceUnreadLimit();
        RunOutputs out = new RunOutputs(liveBytes);
        boolean ok = false;
        AutoCloseable prev = null; // owner of `current` while `out` does not own it
        try {
            OnnxTensor current = req.prompts != null ? tokenTensor(req.prompts, maxLen) : floatTensor(req.startResidual);
            prev = current;
            for (int[] range : segments(first, last)) {
                GraphSpec spec = new GraphSpec(range[0], range[1], within(cached, range), within(patches.keySet(), range));
                OrtSession.Result result;
                CompiledGraph graph;
                List<OnnxTensor> patchTensors = new ArrayList<>();
                try (SessionCache.Lease lease = sessions.acquire(spec)) {
                    graph = lease.compiled.graph();
                    Map<String, OnnxTensor> feeds = new HashMap<>();
                    feeds.put(graph.input(), current);
                    for (String w : graph.weightInputs()) feeds.put(w, weightInputs.get(w));
                    for (String h : graph.patchedHooks()) {
                        PatchPorts pp = PatchPorts.build(hooks.get(h), hooks.get(h).shape(config, batch, maxLen), patches.get(h));
                        long[] shape = OrtRuntime.shape(pp.shape);
                        OnnxTensor mask = OnnxTensor.createTensor(env, pp.mask, shape, OnnxJavaType.BOOL);
                        patchTensors.add(mask);
                        OnnxTensor value = OnnxTensor.createTensor(env, pp.value, shape);
                        patchTensors.add(value);
                        feeds.put(Ports.patchMask(h), mask);
                        feeds.put(Ports.patchValue(h), value);
                    }
                    Set<String> fetch = new HashSet<>();
                    fetch.add(graph.output());
                    for (String port : graph.hookPorts().values()) if (!port.equals(graph.input())) fetch.add(port);
                    result = lease.compiled.session().run(feeds, fetch);
                } finally {
                    patchTensors.forEach(OnnxTensor::close);
                }
                boolean keepResult = false, keepInput = false;
                for (var e : graph.hookPorts().entrySet()) {
                    if (e.getValue().equals(graph.input())) {
                        out.put(e.getKey(), current);
                        keepInput = true;
                    } else {
                        out.put(e.getKey(), (OnnxTensor) result.get(e.getValue()).orElseThrow(), graph.hookLayouts().get(e.getKey()));
                        keepResult = true;
                    }
                }
                // the segment's input is no longer needed unless a hook refers to it
                if (prev != null) {
                    if (keepInput) out.own(prev);
                    else closeQuietly(prev);
                }
                current = (OnnxTensor) result.get(graph.output()).orElseThrow();
                if (keepResult) {
                    out.own(result);
                    prev = null;
                } else {
                    prev = result;
                }
            }
            boolean toLogits = last == Stages.unembed(config);
            boolean keepFinal = req.logits || !toLogits;
            if (keepFinal) out.put(toLogits ? RunResult.LOGITS : RunResult.RESIDUAL, current);
            if (prev != null) {
                if (keepFinal) out.own(prev);
                else closeQuietly(prev);
                prev = null;
            }
            List<String> names = new ArrayList<>();
            for (String name : hooks.names()) if (out.has(name)) names.add(name);
            synchronized (live) {
                live.addLast(new WeakReference<>(out));
            }
            ok = true;
            return new RunResult(hooks, lengths, names, keepFinal && toLogits, !toLogits, out::get, out::close);
        } finally {
            if (!ok) {
                if (prev != null) closeQuietly(prev);
                out.close();
            }
        }
    }

    /** Copies the oldest open results to the heap while the native outputs left unread exceed the limit. */
    private void enforceUnreadLimit() {
        synchronized (live) {
            live.removeIf(r -> r.get() == null || r.get().nativeBytes() == 0);
            while (liveBytes.get() > options.maxUnread() && !live.isEmpty()) {
                RunOutputs o = live.pollFirst().get();
                if (o != null) o.spill();
            }
        }
    }

    private List<int[]> segments(int first, int last) {
        List<int[]> out = new ArrayList<>();
        if (options.fused()) out.add(new int[]{first, last});
        else for (int s = first; s <= last; s++) out.add(new int[]{s, s});
        return out;
    }

    private Set<String> within(Set<String> names, int[] range) {
        Set<String> out = new HashSet<>();
        for (String n : names) {
            int s = Stages.ofHookLayer(hooks.get(n).layer());
            if (s >= range[0] && s <= range[1]) out.add(n);
        }
        return out;
    }

    private Map<String, List<Patch>> groupPatches(List<Patch> patches, int first, int last) {
        Map<String, List<Patch>> out = new LinkedHashMap<>();
        for (Patch p : patches) {
            if (!hooks.contains(p.hook())) throw new IllegalArgumentException("cannot patch unknown hook '" + p.hook() + "'");
            int s = Stages.ofHookLayer(hooks.get(p.hook()).layer());
            if (s < first || s > last)
                throw new IllegalArgumentException("cannot patch " + p.hook() + ": the run covers " + Stages.describe(config, first)
                        + " to " + Stages.describe(config, last));
            out.computeIfAbsent(p.hook(), k -> new ArrayList<>()).add(p);
        }
        return out;
    }

    private int checkStart(int layer) {
        if (layer < 0 || layer > config.nLayers())
            throw new IllegalArgumentException("start layer " + layer + " outside [0, " + config.nLayers() + "]");
        return Stages.block(layer);
    }

    private int checkStop(int layer, RunRequest req) {
        if (layer < 0 || layer >= config.nLayers())
            throw new IllegalArgumentException("stop layer " + layer + " outside [0, " + (config.nLayers() - 1) + "]");
        if (req.prompts == null && layer < req.startLayer)
            throw new IllegalArgumentException("stop layer " + layer + " is before start layer " + req.startLayer);
        return Stages.block(layer);
    }

    private void checkPrompts(List<int[]> prompts, int maxLen) {
        if (maxLen > config.nCtx())
            throw new IllegalArgumentException("prompt of " + maxLen + " tokens is longer than the context of " + config.nCtx());
        for (int i = 0; i < prompts.size(); i++) {
            int[] p = prompts.get(i);
            if (p.length == 0) throw new IllegalArgumentException("prompt " + i + " is empty");
            for (int k = 0; k < p.length; k++)
                if (p[k] < 0 || p[k] >= config.dVocab())
                    throw new IllegalArgumentException("token id " + p[k] + " (prompt " + i + ", position " + k + ") is outside the vocabulary [0, "
                            + config.dVocab() + ")");
        }
    }

    // ---------------------------------------------------------------- top logits

    /**
     * Per row of residual vectors: the k largest logits of {@code unembed(ln_final(x))} (largest first, ties: lower
     * id first) with their ids, Σ exp(logit − max) in double, and a target token's logit with the number of logits
     * above it. The whole row of logits never leaves ONNX Runtime.
     *
     * @param expSum Σ exp(logit − values[row·k]) over the vocabulary, so log Σ exp = values[row·k] + log(expSum)
     * @param above  logits strictly greater than the target's (its rank is above + 1)
     */
    public record TopLogits(int rows, int k, float[] values, int[] ids, double[] expSum, float[] targetLogit, int[] above) {
        /** log Σ exp of the row's logits. */
        public double logSumExp(int row) { return values[row * k] + Math.log(expSum[row]); }
    }

    /** Logit rows reduced per call: the graph holds a few [rows, vocab] buffers, so this bounds its memory. */
    private static final long TOP_LOGITS_PER_CALL = 4L << 20;

    /**
     * @param residual vectors of d_model in its last dimension (e.g. [rows, d_model] or [1, pos, d_model]), before ln_final
     * @param targets  one token per row whose logit and rank are wanted, or null (then token 0's)
     */
    public TopLogits topLogits(Tensor residual, int k, int[] targets) {
        int d = config.dModel(), vocab = config.dVocab();
        if (residual.dim(-1) != d) throw new IllegalArgumentException("residual has d_model " + residual.dim(-1) + ", the model " + d);
        int rows = residual.size() / d;
        int kk = Math.min(k, vocab);
        if (kk < 1) throw new IllegalArgumentException("top-k must be at least 1");
        if (targets != null && targets.length != rows) throw new IllegalArgumentException(targets.length + " targets for " + rows + " rows");
        if (targets != null) for (int t : targets)
            if (t < 0 || t >= vocab) throw new IllegalArgumentException("target token " + t + " is outside the vocabulary [0, " + vocab + ")");
        TopLogits out = new TopLogits(rows, kk, new float[rows * kk], new int[rows * kk], new double[rows], new float[rows], new int[rows]);
        int step = (int) Math.max(1, TOP_LOGITS_PER_CALL / vocab);
        closing.readLock().lock();
        try {
            if (closed) throw new IllegalStateException("engine is closed");
            SessionCache.Compiled top = topGraphs.computeIfAbsent(kk, this::compileTop);
            float[] data = residual.data();
            for (int first = 0; first < rows; first += step) {
                int n = Math.min(step, rows - first);
                float[] chunk = java.util.Arrays.copyOfRange(data, first * d, (first + n) * d);
                LongBuffer tb = ByteBuffer.allocateDirect(n * 8).order(ByteOrder.nativeOrder()).asLongBuffer();
                for (int r = 0; r < n; r++) tb.put(targets == null ? 0 : targets[first + r]);
                try (OnnxTensor in = OrtRuntime.directTensor(env, chunk, new int[]{n, d});
                     OnnxTensor tt = OnnxTensor.createTensor(env, tb.rewind(), new long[]{n})) {
                    Map<String, OnnxTensor> feeds = new HashMap<>();
                    feeds.put(Ports.RESID_IN, in);
                    feeds.put(GraphCompiler.TARGETS, tt);
                    for (String w : top.graph().weightInputs()) feeds.put(w, weightInputs.get(w));
                    try (OrtSession.Result r = top.session().run(feeds)) {
                        ((OnnxTensor) r.get(GraphCompiler.TOP_VALUES).orElseThrow()).getFloatBuffer().get(out.values(), first * kk, n * kk);
                        LongBuffer ids = ((OnnxTensor) r.get(GraphCompiler.TOP_IDS).orElseThrow()).getLongBuffer();
                        for (int i = 0; i < n * kk; i++) out.ids()[first * kk + i] = (int) ids.get(i);
                        ((OnnxTensor) r.get(GraphCompiler.EXP_SUM).orElseThrow()).getDoubleBuffer().get(out.expSum(), first, n);
                        ((OnnxTensor) r.get(GraphCompiler.TARGET_LOGIT).orElseThrow()).getFloatBuffer().get(out.targetLogit(), first, n);
                        LongBuffer above = ((OnnxTensor) r.get(GraphCompiler.ABOVE).orElseThrow()).getLongBuffer();
                        for (int i = 0; i < n; i++) out.above()[first + i] = (int) above.get(i);
                    }
                }
            }
            return out;
        } catch (OrtException e) {
            throw new EngineException("ONNX Runtime failed: " + e.getMessage(), e);
        } finally {
            closing.readLock().unlock();
        }
    }

    private SessionCache.Compiled compileTop(int k) {
        CompiledGraph g = compiler.topLogits(k);
        try {
            return new SessionCache.Compiled(g, OrtRuntime.session(g.model(), options.threads()));
        } catch (OrtException e) {
            throw new EngineException("ONNX Runtime rejected the top-logits graph: " + e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------- tensors in and out

    private OnnxTensor tokenTensor(List<int[]> prompts, int maxLen) throws OrtException {
        LongBuffer buf = ByteBuffer.allocateDirect(prompts.size() * maxLen * 8).order(ByteOrder.nativeOrder()).asLongBuffer();
        for (int[] p : prompts) {
            for (int k = 0; k < maxLen; k++) buf.put(k < p.length ? p[k] : 0); // right padding: causal attention never sees it
        }
        return OnnxTensor.createTensor(env, buf.rewind(), new long[]{prompts.size(), maxLen});
    }

    private OnnxTensor floatTensor(Tensor t) {
        try {
            return OrtRuntime.directTensor(env, t.data(), t.shape());
        } catch (OrtException e) {
            throw new EngineException("cannot create tensor " + t, e);
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) { /* closing is best effort */ }
    }

    @Override
    public void close() {
        closing.writeLock().lock();
        try {
            if (closed) return;
            closed = true;
            synchronized (live) {
                for (var r : live) if (r.get() != null) r.get().spill();
                live.clear();
            }
            sessions.close();
            for (SessionCache.Compiled c : topGraphs.values()) closeQuietly(c.session());
            topGraphs.clear();
            weightInputs.values().forEach(OnnxValue::close);
        } finally {
            closing.writeLock().unlock();
        }
    }
}
