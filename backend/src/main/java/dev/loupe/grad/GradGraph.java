package dev.loupe.grad;

import ai.onnx.proto.OnnxMl.TensorProto.DataType;
import dev.loupe.compiler.GraphBuilder;
import dev.loupe.compiler.GraphCompiler;
import dev.loupe.hooks.HookPoint;
import dev.loupe.hooks.HookPoints;
import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;

import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes one ONNX graph holding the whole forward pass of a GPT-2-family model, a scalar metric of its logits and
 * (optionally) the backward pass: vector-Jacobian products written out as ONNX ops, giving the gradient of the
 * metric with respect to hooks and weights. Weights are graph inputs under their Hugging Face names, so one
 * compiled session serves every step of a training run.
 *
 * <p>The metric is a linear form over the logits and their log-sum-exp, per row {@code n} of the flattened
 * [batch·pos] logits: {@code metric = Σ_n Σ_k val[n,k]·logits[n, idx[n,k]] + Σ_n lse[n]·logsumexp(logits[n])}.
 * Mean cross-entropy, logit differences and log-probabilities are all of this form ({@link Metric} fills the
 * ports); its gradient with respect to the logits is {@code lse[n]·softmax(logits[n]) + scatter(idx, val)}.
 */
public final class GradGraph {
    /** Token ids [batch, pos], int64. */
    public static final String TOKENS = "tokens";
    /** Metric ports: vocabulary indices [batch, pos, k] int64, their coefficients [batch, pos, k] and log-sum-exp weights [batch, pos]. */
    public static final String METRIC_IDX = "metric_idx", METRIC_VAL = "metric_val", METRIC_LSE = "metric_lse";
    /** The metric value, a float scalar. */
    public static final String METRIC = "metric";
    /** The logits [batch, pos, vocab], when asked for. */
    public static final String LOGITS = "logits";

    /** Names of the dropout mask inputs of a config: the embedding sum, then each layer's attention and MLP outputs. */
    public static List<String> dropoutMasks(GptConfig c) {
        List<String> m = new java.util.ArrayList<>();
        m.add("dropout:embed");
        for (int l = 0; l < c.nLayers(); l++) {
            m.add("dropout:" + l + ".attn");
            if (!c.attnOnly()) m.add("dropout:" + l + ".mlp");
        }
        return m;
    }

    /** Name of the output holding d metric / d hook. */
    public static String hookGrad(String hook) { return "grad:" + hook; }
    /** Name of the output holding the value of a hook. */
    public static String hookValue(String hook) { return "act:" + hook; }
    /** Name of the output holding d metric / d weight. */
    public static String weightGrad(String weight) { return "grad.w:" + weight; }

    /**
     * What a graph computes besides the metric.
     *
     * @param values      hooks whose values are returned ({@link #hookValue})
     * @param grads       hooks whose gradients are returned ({@link #hookGrad})
     * @param weightGrads return the gradient of every weight ({@link #weightGrad})
     * @param logits      return the logits ({@link #LOGITS}, [batch, pos, vocab])
     * @param dropout     residual dropout for training: the embedding sum and every attention and MLP output are
     *                    multiplied by mask inputs ({@link #dropoutMasks}, [batch, pos, d_model], 0 or 1/(1−p)) that
     *                    the caller draws, so a run is a function of its inputs
     */
    public record Spec(Set<String> values, Set<String> grads, boolean weightGrads, boolean logits, boolean dropout) {
        public Spec {
            values = Set.copyOf(values);
            grads = Set.copyOf(grads);
        }

        public boolean backward() { return weightGrads || !grads.isEmpty(); }

        public Spec(Set<String> values, Set<String> grads, boolean weightGrads) { this(values, grads, weightGrads, false, false); }

        public static Spec training() { return new Spec(Set.of(), Set.of(), true, false, false); }
        public static Spec trainingWithDropout() { return new Spec(Set.of(), Set.of(), true, false, true); }
        public static Spec forwardOnly() { return new Spec(Set.of(), Set.of(), false, false, false); }
        public static Spec withLogits() { return new Spec(Set.of(), Set.of(), false, true, false); }
    }

    private final GptConfig config;
    private final HookPoints hooks;

    public GradGraph(GptConfig config) {
        this.config = config;
        this.hooks = HookPoints.of(config);
    }

    public GptConfig config() { return config; }

    /** The serialised ONNX model for {@code spec}. */
    public byte[] compile(Spec spec) {
        for (String h : spec.values()) if (!hooks.contains(h)) throw new IllegalArgumentException("no hook named " + h);
        for (String h : spec.grads()) if (!hooks.contains(h)) throw new IllegalArgumentException("no hook named " + h);
        return new Build(spec).run();
    }

    /** Names of the weight inputs, in canonical order. */
    public List<String> weightNames() { return List.copyOf(GptWeights.expectedShapes(config).keySet()); }

    private final class Build {
        private final Spec spec;
        private final GraphBuilder g = new GraphBuilder("loupe_grad");
        private final int d = config.dModel(), nh = config.nHeads(), dh = config.dHead();
        private final float eps = (float) config.lnEps();
        private final Map<String, String> act = new HashMap<>();
        private final Map<String, String> gradOf = new HashMap<>();
        private final Set<String> declared = new LinkedHashSet<>();
        private String causal, batchPos;

        Build(Spec spec) { this.spec = spec; }

        byte[] run() {
            g.input(TOKENS, DataType.INT64, "batch", "pos");
            g.input(METRIC_IDX, DataType.INT64, "batch", "pos", "k");
            g.input(METRIC_VAL, DataType.FLOAT, "batch", "pos", "k");
            g.input(METRIC_LSE, DataType.FLOAT, "batch", "pos");
            for (var e : GptWeights.expectedShapes(config).entrySet()) {
                Object[] dims = new Object[e.getValue().length];
                for (int i = 0; i < dims.length; i++) dims[i] = e.getValue()[i];
                g.input(e.getKey(), DataType.FLOAT, dims);
            }
            batchPos = g.op("Shape", List.of(TOKENS), "start", 0L, "end", 2L);
            if (spec.dropout()) for (String m : dropoutMasks(config)) g.input(m, DataType.FLOAT, "batch", "pos", d);

            // ---------------- forward
            String wteGather = g.op("Gather", List.of("wte.weight", TOKENS), "axis", 0);
            setAct(HookPoints.EMBED, wteGather);
            String posLen = g.op("Shape", List.of(TOKENS), "start", 1L, "end", 2L);
            String pos = g.op("Slice", List.of("wpe.weight", g.ints(0), posLen, g.ints(0)));
            if (spec.values().contains(HookPoints.POS_EMBED))
                setAct(HookPoints.POS_EMBED, g.op("Expand", List.of(pos, g.op("Shape", List.of(wteGather)))));
            String x = drop("dropout:embed", g.op("Add", List.of(wteGather, pos)));
            BlockSaved[] saved = new BlockSaved[config.nLayers()];
            for (int l = 0; l < config.nLayers(); l++) {
                saved[l] = blockForward(l, x);
                x = saved[l].out;
            }
            Ln lnf = lnForward("ln_final.", x, "ln_f");
            String yFlat = g.op("Reshape", List.of(lnf.y, g.ints(-1, d)));
            String logits = g.op("Gemm", List.of(yFlat, "wte.weight"), "transB", 1); // [N, V]
            String idx = g.op("Reshape", List.of(METRIC_IDX, kShape()));
            String val = g.op("Reshape", List.of(METRIC_VAL, kShape()));
            String lseW = g.op("Reshape", List.of(METRIC_LSE, g.ints(-1)));
            String lse = g.op("ReduceLogSumExp", List.of(logits, g.ints(1)), "keepdims", 0);
            String picked = g.op("GatherElements", List.of(logits, idx), "axis", 1);
            String m1 = g.op("ReduceSum", List.of(g.op("Mul", List.of(picked, val))), "keepdims", 0);
            String m2 = g.op("ReduceSum", List.of(g.op("Mul", List.of(lse, lseW))), "keepdims", 0);
            g.op("Add", METRIC, List.of(m1, m2));
            g.output(METRIC, DataType.FLOAT);
            if (spec.logits()) {
                g.op("Reshape", LOGITS, List.of(logits, bt(config.dVocab())));
                g.output(LOGITS, DataType.FLOAT, "batch", "pos", config.dVocab());
            }
            for (String h : spec.values()) {
                String v = act.get(h);
                if (v == null) throw new IllegalStateException("hook " + h + " was not built");
                g.output(g.op("Identity", hookValue(h), List.of(v)), DataType.FLOAT, dims(hooks.get(h)));
            }
            if (!spec.backward()) return g.build().toByteArray();

            // ---------------- backward
            String sm = g.op("Softmax", List.of(logits), "axis", 1);
            String gLogits = g.op("Mul", List.of(sm, g.op("Unsqueeze", List.of(lseW, g.ints(1)))));
            gLogits = g.op("ScatterElements", List.of(gLogits, idx, val), "axis", 1, "reduction", "add");
            String gY = g.op("MatMul", List.of(gLogits, "wte.weight")); // [N, d]
            gY = g.op("Reshape", List.of(gY, bt(d)));
            String dWteOut = spec.weightGrads() ? g.op("Gemm", List.of(gLogits, yFlat), "transA", 1) : null; // [V, d]
            String gx = lnBackward("ln_final.", lnf, gY, "ln_f");
            for (int l = config.nLayers() - 1; l >= 0; l--) gx = blockBackward(l, saved[l], gx);
            gx = drop("dropout:embed", gx);
            setGrad(HookPoints.EMBED, gx);
            setGrad(HookPoints.POS_EMBED, gx);
            if (spec.weightGrads()) {
                String upd = g.op("Unsqueeze", List.of(TOKENS, g.ints(-1)));
                weightGradOut("wte.weight", g.op("ScatterND", List.of(dWteOut, upd, gx), "reduction", "add"));
                String wpeRows = g.op("ReduceSum", List.of(gx, g.ints(0)), "keepdims", 0); // [pos, d]
                String padRows = g.op("Sub", List.of(g.ints(config.nCtx()), posLen));
                String pads = g.op("Concat", List.of(g.ints(0, 0), padRows, g.ints(0)), "axis", 0);
                weightGradOut("wpe.weight", g.op("Pad", List.of(wpeRows, pads)));
            }
            for (String h : spec.grads()) {
                String v = gradOf.get(h);
                if (v == null) throw new IllegalStateException("gradient of " + h + " was not built");
                g.output(g.op("Identity", hookGrad(h), List.of(v)), DataType.FLOAT, dims(hooks.get(h)));
            }
            return g.build().toByteArray();
        }

        private String kShape() { return g.op("Concat", List.of(g.ints(-1), g.op("Shape", List.of(METRIC_IDX), "start", 2L, "end", 3L)), "axis", 0); }

        /** [batch, pos, k] as a shape tensor. */
        private String bt(int k) { return g.op("Concat", List.of(batchPos, g.ints(k)), "axis", 0); }

        private void setAct(String hook, String value) { act.put(hook, value); }

        /** {@code x} times the dropout mask {@code mask} when the spec trains with dropout, else {@code x}. */
        private String drop(String mask, String x) { return spec.dropout() ? g.op("Mul", List.of(x, mask)) : x; }

        private void setGrad(String hook, String value) { gradOf.put(hook, value); }

        private void weightGradOut(String weight, String value) {
            String name = weightGrad(weight);
            g.op("Identity", name, List.of(value));
            int[] shape = GptWeights.expectedShapes(config).get(weight);
            Object[] dims = new Object[shape.length];
            for (int i = 0; i < dims.length; i++) dims[i] = shape[i];
            g.output(name, DataType.FLOAT, dims);
        }

        private Object[] dims(HookPoint hp) { return GraphCompiler.hookDims(hp, config); }

        // ------------------------------------------------------------ LayerNorm

        record Ln(String x, String y, String xhat, String inv) {}

        Ln lnForward(String prefix, String x, String w) {
            String y = g.fresh("ln_y"), mean = g.fresh("ln_mean"), inv = g.fresh("ln_inv");
            g.opMulti("LayerNormalization", List.of(y, mean, inv), List.of(x, w + ".weight", w + ".bias"), "axis", -1, "epsilon", eps);
            String xhat = g.op("Mul", List.of(g.op("Sub", List.of(x, mean)), inv));
            setAct(prefix + "hook_normalized", y);
            if (spec.values().contains(prefix + "hook_scale")) setAct(prefix + "hook_scale", g.op("Reciprocal", List.of(inv)));
            return new Ln(x, y, xhat, inv);
        }

        /** Gradient of the LayerNorm input from that of its output; also its weight grads and hook grads. */
        String lnBackward(String prefix, Ln ln, String gy, String w) {
            setGrad(prefix + "hook_normalized", gy);
            String gxhat = g.op("Mul", List.of(gy, w + ".weight"));
            String axes = g.ints(-1);
            String dot = g.op("ReduceSum", List.of(g.op("Mul", List.of(gxhat, ln.xhat)), axes), "keepdims", 1); // Σ gxhat·xhat
            if (spec.grads().contains(prefix + "hook_scale"))
                setGrad(prefix + "hook_scale", g.op("Neg", List.of(g.op("Mul", List.of(dot, ln.inv)))));
            if (spec.weightGrads()) {
                String flatG = g.op("Reshape", List.of(gy, g.ints(-1, d)));
                String flatXhat = g.op("Reshape", List.of(ln.xhat, g.ints(-1, d)));
                weightGradOut(w + ".weight", g.op("ReduceSum", List.of(g.op("Mul", List.of(flatG, flatXhat)), g.ints(0)), "keepdims", 0));
                weightGradOut(w + ".bias", g.op("ReduceSum", List.of(flatG, g.ints(0)), "keepdims", 0));
            }
            String meanG = g.op("ReduceMean", List.of(gxhat, axes), "keepdims", 1);
            String meanDot = g.op("Mul", List.of(dot, g.floatScalar(1f / d)));
            String inner = g.op("Sub", List.of(g.op("Sub", List.of(gxhat, meanG)), g.op("Mul", List.of(ln.xhat, meanDot))));
            return g.op("Mul", List.of(inner, ln.inv));
        }

        // ------------------------------------------------------------ linear layers

        String linear(String x, String prefix) {
            return g.op("Add", List.of(g.op("MatMul", List.of(x, prefix + ".weight")), prefix + ".bias"));
        }

        /** Gradient of the input of {@code y = x·W + b} given dy; writes W and b gradients. */
        String linearBackward(String x, String gy, String prefix, int dIn, int dOut) {
            String gyFlat = g.op("Reshape", List.of(gy, g.ints(-1, dOut)));
            if (spec.weightGrads()) {
                String xFlat = g.op("Reshape", List.of(x, g.ints(-1, dIn)));
                weightGradOut(prefix + ".weight", g.op("Gemm", List.of(xFlat, gyFlat), "transA", 1));
                weightGradOut(prefix + ".bias", g.op("ReduceSum", List.of(gyFlat, g.ints(0)), "keepdims", 0));
            }
            String gx = g.op("Gemm", List.of(gyFlat, prefix + ".weight"), "transB", 1);
            return g.op("Reshape", List.of(gx, bt(dIn)));
        }

        // ------------------------------------------------------------ blocks

        final class BlockSaved {
            String x, qh, kh, vh, pattern, zFlat, mid, pre, post, out;
            Ln ln1, ln2;
        }

        String causalMask() {
            if (causal == null) {
                String n = g.op("Squeeze", List.of(g.op("Shape", List.of(TOKENS), "start", 1L, "end", 2L), g.ints(0)));
                String r = g.op("Range", List.of(g.intScalar(0), n, g.intScalar(1)));
                causal = g.op("GreaterOrEqual", List.of(g.op("Unsqueeze", List.of(r, g.ints(1))), g.op("Unsqueeze", List.of(r, g.ints(0)))));
            }
            return causal;
        }

        BlockSaved blockForward(int l, String x) {
            String p = "blocks." + l + ".", wp = "h." + l + ".";
            BlockSaved s = new BlockSaved();
            s.x = x;
            setAct(p + "hook_resid_pre", x);
            s.ln1 = lnForward(p + "ln1.", x, wp + "ln_1");
            String qkv = linear(s.ln1.y, wp + "attn.c_attn");
            String q0 = g.fresh("q"), k0 = g.fresh("k"), v0 = g.fresh("v");
            g.opMulti("Split", List.of(q0, k0, v0), List.of(qkv, g.ints(d, d, d)), "axis", -1);
            String headShape = g.ints(0, 0, nh, dh);
            String q = g.op("Reshape", List.of(q0, headShape)), k = g.op("Reshape", List.of(k0, headShape)), v = g.op("Reshape", List.of(v0, headShape));
            setAct(p + "attn.hook_q", q);
            setAct(p + "attn.hook_k", k);
            setAct(p + "attn.hook_v", v);
            s.qh = g.op("Transpose", List.of(q), "perm", new long[]{0, 2, 1, 3});
            s.kh = g.op("Transpose", List.of(k), "perm", new long[]{0, 2, 1, 3});
            s.vh = g.op("Transpose", List.of(v), "perm", new long[]{0, 2, 1, 3});
            String kt = g.op("Transpose", List.of(k), "perm", new long[]{0, 2, 3, 1});
            String raw = g.op("Mul", List.of(g.op("MatMul", List.of(s.qh, kt)), g.floatScalar((float) (1.0 / Math.sqrt(dh)))));
            String scores = g.op("Where", List.of(causalMask(), raw, g.floatScalar(Float.NEGATIVE_INFINITY)));
            setAct(p + "attn.hook_attn_scores", scores);
            s.pattern = g.op("Softmax", List.of(scores), "axis", -1);
            setAct(p + "attn.hook_pattern", s.pattern);
            String zh = g.op("MatMul", List.of(s.pattern, s.vh));
            String z = g.op("Transpose", List.of(zh), "perm", new long[]{0, 2, 1, 3});
            setAct(p + "attn.hook_z", z);
            s.zFlat = g.op("Reshape", List.of(z, g.ints(0, 0, d)));
            if (spec.values().contains(p + "attn.hook_result")) {
                String zhm = g.op("Reshape", List.of(g.op("Transpose", List.of(z), "perm", new long[]{2, 0, 1, 3}), g.ints(nh, -1, dh)));
                String wo = g.op("Reshape", List.of(wp + "attn.c_proj.weight", g.ints(nh, dh, d)));
                String hm = g.op("Reshape", List.of(g.op("MatMul", List.of(zhm, wo)), g.op("Concat", List.of(g.ints(nh), batchPos, g.ints(d)), "axis", 0)));
                setAct(p + "attn.hook_result", g.op("Transpose", List.of(hm), "perm", new long[]{1, 2, 0, 3}));
            }
            String attnOut = linear(s.zFlat, wp + "attn.c_proj");
            setAct(p + "hook_attn_out", attnOut);
            if (config.attnOnly()) {
                s.out = g.op("Add", List.of(x, drop("dropout:" + l + ".attn", attnOut)));
                setAct(p + "hook_resid_post", s.out);
                return s;
            }
            s.mid = g.op("Add", List.of(x, drop("dropout:" + l + ".attn", attnOut)));
            setAct(p + "hook_resid_mid", s.mid);
            s.ln2 = lnForward(p + "ln2.", s.mid, wp + "ln_2");
            s.pre = linear(s.ln2.y, wp + "mlp.c_fc");
            setAct(p + "mlp.hook_pre", s.pre);
            s.post = g.op("Gelu", List.of(s.pre), "approximate", "tanh");
            setAct(p + "mlp.hook_post", s.post);
            String mlpOut = linear(s.post, wp + "mlp.c_proj");
            setAct(p + "hook_mlp_out", mlpOut);
            s.out = g.op("Add", List.of(s.mid, drop("dropout:" + l + ".mlp", mlpOut)));
            setAct(p + "hook_resid_post", s.out);
            return s;
        }

        /** d gelu_new(x) / dx. */
        String geluGrad(String x) {
            float c = (float) Math.sqrt(2.0 / Math.PI), a = 0.044715f;
            String x2 = g.op("Mul", List.of(x, x));
            String inner = g.op("Mul", List.of(g.op("Mul", List.of(x, g.op("Add", List.of(g.op("Mul", List.of(x2, g.floatScalar(a))), g.floatScalar(1f))))), g.floatScalar(c)));
            String t = g.op("Tanh", List.of(inner));
            String left = g.op("Mul", List.of(g.op("Add", List.of(t, g.floatScalar(1f))), g.floatScalar(0.5f)));
            String sech2 = g.op("Sub", List.of(g.floatScalar(1f), g.op("Mul", List.of(t, t))));
            String dInner = g.op("Mul", List.of(g.op("Add", List.of(g.op("Mul", List.of(x2, g.floatScalar(3 * a))), g.floatScalar(1f))), g.floatScalar(c)));
            String right = g.op("Mul", List.of(g.op("Mul", List.of(g.op("Mul", List.of(x, g.floatScalar(0.5f))), sech2)), dInner));
            return g.op("Add", List.of(left, right));
        }

        /** Gradient of the block input from that of its output. */
        String blockBackward(int l, BlockSaved s, String gOut) {
            String p = "blocks." + l + ".", wp = "h." + l + ".";
            setGrad(p + "hook_resid_post", gOut);
            String gMid = gOut;
            if (!config.attnOnly()) {
                String gMlpOut = drop("dropout:" + l + ".mlp", gOut);
                setGrad(p + "hook_mlp_out", gMlpOut);
                String gPost = linearBackward(s.post, gMlpOut, wp + "mlp.c_proj", config.dMlp(), d);
                setGrad(p + "mlp.hook_post", gPost);
                String gPre = g.op("Mul", List.of(gPost, geluGrad(s.pre)));
                setGrad(p + "mlp.hook_pre", gPre);
                String gLn2 = linearBackward(s.ln2.y, gPre, wp + "mlp.c_fc", d, config.dMlp());
                gMid = g.op("Add", List.of(gOut, lnBackward(p + "ln2.", s.ln2, gLn2, wp + "ln_2")));
                setGrad(p + "hook_resid_mid", gMid);
            }
            String gAttnOut = drop("dropout:" + l + ".attn", gMid);
            setGrad(p + "hook_attn_out", gAttnOut);
            if (spec.grads().contains(p + "attn.hook_result"))
                setGrad(p + "attn.hook_result", g.op("Expand", List.of(g.op("Unsqueeze", List.of(gAttnOut, g.ints(2))),
                        g.op("Concat", List.of(batchPos, g.ints(nh, d)), "axis", 0))));
            String gzFlat = linearBackward(s.zFlat, gAttnOut, wp + "attn.c_proj", d, d);
            String gz = g.op("Reshape", List.of(gzFlat, g.ints(0, 0, nh, dh)));
            setGrad(p + "attn.hook_z", gz);
            String gzh = g.op("Transpose", List.of(gz), "perm", new long[]{0, 2, 1, 3});
            String gP = g.op("MatMul", List.of(gzh, g.op("Transpose", List.of(s.vh), "perm", new long[]{0, 1, 3, 2})));
            setGrad(p + "attn.hook_pattern", gP);
            String gvh = g.op("MatMul", List.of(g.op("Transpose", List.of(s.pattern), "perm", new long[]{0, 1, 3, 2}), gzh));
            String rowDot = g.op("ReduceSum", List.of(g.op("Mul", List.of(gP, s.pattern)), g.ints(-1)), "keepdims", 1);
            String gS = g.op("Mul", List.of(s.pattern, g.op("Sub", List.of(gP, rowDot))));
            setGrad(p + "attn.hook_attn_scores", gS);
            String c = g.floatScalar((float) (1.0 / Math.sqrt(dh)));
            String gqh = g.op("Mul", List.of(g.op("MatMul", List.of(gS, s.kh)), c));
            String gkh = g.op("Mul", List.of(g.op("MatMul", List.of(g.op("Transpose", List.of(gS), "perm", new long[]{0, 1, 3, 2}), s.qh)), c));
            String gq = g.op("Transpose", List.of(gqh), "perm", new long[]{0, 2, 1, 3});
            String gk = g.op("Transpose", List.of(gkh), "perm", new long[]{0, 2, 1, 3});
            String gv = g.op("Transpose", List.of(gvh), "perm", new long[]{0, 2, 1, 3});
            setGrad(p + "attn.hook_q", gq);
            setGrad(p + "attn.hook_k", gk);
            setGrad(p + "attn.hook_v", gv);
            String flat = g.ints(0, 0, d);
            String gqkv = g.op("Concat", List.of(g.op("Reshape", List.of(gq, flat)), g.op("Reshape", List.of(gk, flat)), g.op("Reshape", List.of(gv, flat))), "axis", -1);
            String gLn1 = linearBackward(s.ln1.y, gqkv, wp + "attn.c_attn", d, 3 * d);
            String gx = g.op("Add", List.of(gMid, lnBackward(p + "ln1.", s.ln1, gLn1, wp + "ln_1")));
            setGrad(p + "hook_resid_pre", gx);
            return gx;
        }
    }
}
