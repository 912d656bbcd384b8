package dev.loupe.compiler;

import ai.onnx.proto.OnnxMl.TensorProto.DataType;
import dev.loupe.hooks.Axis;
import dev.loupe.hooks.HookPoint;
import dev.loupe.hooks.HookPoints;
import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.model.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * Loupe's graph compiler: writes the ONNX graph of a range of GPT-2 stages (HF {@code GPT2LMHeadModel}
 * arithmetic) in which every requested hook is a named output and every patched hook passes through
 * {@code Where(mask, value, activation)}, so callers can overwrite any element of it.
 *
 * <p>Only what a spec asks for is built: {@code attn.hook_result} (a [batch, pos, head, d_model] tensor) is
 * computed only when returned or patched, LayerNorm scales only when returned, and a LayerNorm whose scale is
 * patched is written out in primitive ops (otherwise ORT's fused LayerNormalization kernel is used).
 */
public final class GraphCompiler {

    /** Weights as graph inputs (one copy shared by every graph of a model) or baked in as initializers. */
    public enum WeightMode { INPUTS, BAKED }

    private final GptConfig config;
    private final GptWeights weights;
    private final WeightMode mode;
    private final HookPoints hooks;

    public GraphCompiler(GptConfig config, GptWeights weights, WeightMode mode) {
        if (mode == WeightMode.BAKED && weights == null) throw new IllegalArgumentException("baked graphs need weights");
        this.config = config;
        this.weights = weights;
        this.mode = mode;
        this.hooks = HookPoints.of(config);
    }

    public GptConfig config() { return config; }
    public WeightMode mode() { return mode; }

    public CompiledGraph compile(GraphSpec spec) {
        if (spec.lastStage() >= Stages.count(config))
            throw new IllegalArgumentException("stage " + spec.lastStage() + " does not exist in a " + config.nLayers() + "-layer model");
        for (String h : union(spec.outputs(), spec.patched())) {
            int stage = Stages.ofHookLayer(hooks.get(h).layer());
            if (stage < spec.firstStage() || stage > spec.lastStage())
                throw new IllegalArgumentException("hook " + h + " is outside " + spec);
        }
        return new Build(spec).run();
    }

    /** Ports of the {@link #topLogits} graph. */
    public static final String TARGETS = "targets", TOP_VALUES = "top_values", TOP_IDS = "top_ids", EXP_SUM = "exp_sum",
            TARGET_LOGIT = "target_logit", ABOVE = "above";

    /**
     * The unembedding (ln_final, then W_U) of rows of residual vectors ({@link Ports#RESID_IN}, float [rows, d_model])
     * reduced inside the graph, so that only [rows, k] and [rows] leave ONNX Runtime instead of [rows, vocab]: per row
     * the k largest logits, largest first ({@link #TOP_VALUES}, ties: lower id first) and their ids ({@link #TOP_IDS},
     * int64), Σ exp(logit − max) summed in double ({@link #EXP_SUM}), and for the row's token of {@link #TARGETS}
     * (int64 [rows]) its logit ({@link #TARGET_LOGIT}) and how many logits exceed it ({@link #ABOVE}, int64).
     */
    public CompiledGraph topLogits(int k) {
        if (k < 1 || k > config.dVocab()) throw new IllegalArgumentException("top-k " + k + " outside 1.." + config.dVocab());
        return new Build(GraphSpec.plain(Stages.unembed(config), Stages.unembed(config))).topLogits(k);
    }

    /** A hook's ONNX dimensions: symbolic "batch" and "pos" for those axes, numbers for the rest. */
    public static Object[] hookDims(HookPoint hp, GptConfig config) {
        Object[] out = new Object[hp.rank()];
        for (int i = 0; i < out.length; i++) {
            Axis a = hp.axes().get(i);
            out[i] = switch (a) {
                case BATCH -> "batch";
                case POS, QUERY_POS, KEY_POS -> "pos";
                default -> hp.shape(config, 1, 1)[i];
            };
        }
        return out;
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> s = new LinkedHashSet<>(a);
        s.addAll(b);
        return s;
    }

    /** One compilation; value names of hooks are the hook names. */
    private final class Build {
        private final GraphSpec spec;
        private final GraphBuilder g;
        private final Set<String> weightsUsed = new LinkedHashSet<>();
        private final Map<String, String> hookPorts = new LinkedHashMap<>();
        private final List<String> patchedHooks = new ArrayList<>();
        private final Map<String, int[]> hookLayouts = new LinkedHashMap<>();
        private final int d = config.dModel(), nh = config.nHeads(), dh = config.dHead();
        private String causalMask;

        Build(GraphSpec spec) {
            this.spec = spec;
            this.g = new GraphBuilder("loupe_" + spec.firstStage() + "_" + spec.lastStage());
        }

        CompiledGraph run() {
            int first = spec.firstStage(), last = spec.lastStage();
            String input, resid;
            if (first == Stages.EMBED) {
                input = Ports.TOKENS;
                g.input(input, DataType.INT64, "batch", "pos");
                resid = embed(input, last == Stages.EMBED);
            } else {
                input = Ports.RESID_IN;
                g.input(input, DataType.FLOAT, "batch", "pos", d);
                resid = input;
            }
            String output = Ports.RESID_OUT;
            for (int s = Math.max(first, 1); s <= last; s++) {
                if (s == Stages.unembed(config)) {
                    output = unembed(resid);
                } else {
                    resid = block(s - 1, resid, s == last);
                }
            }
            if (output.equals(Ports.LOGITS)) g.output(Ports.LOGITS, DataType.FLOAT, "batch", "pos", config.dVocab());
            else g.output(Ports.RESID_OUT, DataType.FLOAT, "batch", "pos", d);
            List<String> fed = mode == WeightMode.INPUTS ? List.copyOf(weightsUsed) : List.of();
            return new CompiledGraph(spec, g.build().toByteArray(), input, output, fed,
                    java.util.Collections.unmodifiableMap(hookPorts), List.copyOf(patchedHooks), java.util.Collections.unmodifiableMap(hookLayouts));
        }

        CompiledGraph topLogits(int k) {
            g.input(Ports.RESID_IN, DataType.FLOAT, "rows", d);
            g.input(TARGETS, DataType.INT64, "rows");
            String y = layerNorm("ln_final.", Ports.RESID_IN, "ln_f");
            String logits = g.op("Gemm", List.of(y, w("wte.weight")), "transB", 1);
            g.opMulti("TopK", List.of(TOP_VALUES, TOP_IDS), List.of(logits, g.ints(k)), "axis", -1, "largest", 1, "sorted", 1);
            String max = g.op("Slice", List.of(TOP_VALUES, g.ints(0), g.ints(1), g.ints(1)));
            String exp = g.op("Exp", List.of(g.op("Sub", List.of(logits, max))));
            // the sum in double, as a log-sum-exp over the whole vocabulary needs
            g.op("ReduceSum", EXP_SUM, List.of(g.op("Cast", List.of(exp), "to", DataType.DOUBLE.getNumber()), g.ints(-1)), "keepdims", 0);
            String target = g.op("GatherElements", List.of(logits, g.op("Unsqueeze", List.of(TARGETS, g.ints(1)))), "axis", 1);
            g.op("Squeeze", TARGET_LOGIT, List.of(target, g.ints(1)));
            String above = g.op("Cast", List.of(g.op("Greater", List.of(logits, target))), "to", DataType.INT64.getNumber());
            g.op("ReduceSum", ABOVE, List.of(above, g.ints(-1)), "keepdims", 0);
            g.output(TOP_VALUES, DataType.FLOAT, "rows", k);
            g.output(TOP_IDS, DataType.INT64, "rows", k);
            g.output(EXP_SUM, DataType.DOUBLE, "rows");
            g.output(TARGET_LOGIT, DataType.FLOAT, "rows");
            g.output(ABOVE, DataType.INT64, "rows");
            List<String> fed = mode == WeightMode.INPUTS ? List.copyOf(weightsUsed) : List.of();
            return new CompiledGraph(spec, g.build().toByteArray(), Ports.RESID_IN, TOP_VALUES, fed, Map.of(), List.of(), Map.of());
        }

        // ------------------------------------------------------------ hooks and weights

        /**
         * Produces hook {@code name}: {@code producer} builds the value under the name it is given (or returns an
         * existing value); a patch port overwrites it; a requested hook becomes an output. {@code forced} names the
         * final value when it is also a port of the graph.
         */
        String hook(String name, UnaryOperator<String> producer, String forced) {
            String finalName = forced != null ? forced : name;
            String v;
            if (spec.patched().contains(name)) {
                HookPoint hp = hooks.get(name);
                String raw = producer.apply(g.fresh("raw"));
                String mask = Ports.patchMask(name), value = Ports.patchValue(name);
                g.input(mask, DataType.BOOL, symbolicDims(hp, "m"));
                g.input(value, DataType.FLOAT, symbolicDims(hp, "v"));
                patchedHooks.add(name);
                v = g.op("Where", finalName, List.of(mask, value, raw));
            } else {
                v = producer.apply(finalName);
            }
            if (spec.outputs().contains(name)) {
                // resid_pre of a block is the previous block's resid_post: one value, declared once
                if (!v.equals(Ports.RESID_IN) && !v.equals(Ports.RESID_OUT) && !g.hasOutput(v)) g.output(v, DataType.FLOAT, dims(hooks.get(name)));
                hookPorts.put(name, v);
            }
            return v;
        }

        String hook(String name, UnaryOperator<String> producer) { return hook(name, producer, null); }

        private Object[] dims(HookPoint hp) { return hookDims(hp, config); }

        // patch ports broadcast, so every dimension is free
        private Object[] symbolicDims(HookPoint hp, String tag) {
            Object[] out = new Object[hp.rank()];
            for (int i = 0; i < out.length; i++) out[i] = tag + i;
            return out;
        }

        String w(String name) {
            if (!weightsUsed.add(name)) return name;
            int[] shape = GptWeights.expectedShapes(config).get(name);
            if (mode == WeightMode.INPUTS) {
                Object[] dims = new Object[shape.length];
                for (int i = 0; i < shape.length; i++) dims[i] = shape[i];
                g.input(name, DataType.FLOAT, dims);
            } else {
                Tensor t = weights.get(name);
                g.floatTensor(name, t.data(), t.shape());
            }
            return name;
        }

        // ------------------------------------------------------------ stages

        String embed(String tokens, boolean lastStage) {
            String embed = hook(HookPoints.EMBED, out -> g.op("Gather", out, List.of(w("wte.weight"), tokens), "axis", 0));
            String posLen = g.op("Shape", List.of(tokens), "start", 1L, "end", 2L);
            String pos = g.op("Slice", List.of(w("wpe.weight"), g.ints(0), posLen, g.ints(0)));
            boolean full = spec.outputs().contains(HookPoints.POS_EMBED) || spec.patched().contains(HookPoints.POS_EMBED);
            if (full) { // [batch, pos, d_model] as TransformerLens shows it
                String p = pos;
                pos = hook(HookPoints.POS_EMBED, out -> g.op("Expand", out, List.of(p, g.op("Shape", List.of(embed)))));
            }
            return g.op("Add", lastStage ? Ports.RESID_OUT : g.fresh("resid"), List.of(embed, pos));
        }

        String block(int l, String residIn, boolean lastStage) {
            String p = "blocks." + l + ".", wp = "h." + l + ".";
            String x = hook(p + "hook_resid_pre", out -> residIn);
            String ln1 = layerNorm(p + "ln1.", x, wp + "ln_1");

            String qkv = linear(ln1, wp + "attn.c_attn", g.fresh("qkv"));
            String q0 = g.fresh("q"), k0 = g.fresh("k"), v0 = g.fresh("v");
            g.opMulti("Split", List.of(q0, k0, v0), List.of(qkv, g.ints(d, d, d)), "axis", -1);
            String headShape = g.ints(0, 0, nh, dh);
            String q = hook(p + "attn.hook_q", out -> g.op("Reshape", out, List.of(q0, headShape)));
            String k = hook(p + "attn.hook_k", out -> g.op("Reshape", out, List.of(k0, headShape)));
            String v = hook(p + "attn.hook_v", out -> g.op("Reshape", out, List.of(v0, headShape)));

            String qh = g.op("Transpose", List.of(q), "perm", new long[]{0, 2, 1, 3});
            String kh = g.op("Transpose", List.of(k), "perm", new long[]{0, 2, 3, 1});
            String vh = g.op("Transpose", List.of(v), "perm", new long[]{0, 2, 1, 3});
            String scores = hook(p + "attn.hook_attn_scores", out -> {
                String s = g.op("Mul", List.of(g.op("MatMul", List.of(qh, kh)), g.floatScalar((float) (1.0 / Math.sqrt(dh)))));
                return g.op("Where", out, List.of(causalMask(x), s, g.floatScalar(Float.NEGATIVE_INFINITY)));
            });
            String pattern = hook(p + "attn.hook_pattern", out -> g.op("Softmax", out, List.of(scores), "axis", -1));
            String z = hook(p + "attn.hook_z", out ->
                    g.op("Transpose", out, List.of(g.op("MatMul", List.of(pattern, vh))), "perm", new long[]{0, 2, 1, 3}));

            String attnOut = attentionOutput(p, wp, z);
            if (config.attnOnly())
                return hook(p + "hook_resid_post", out -> g.op("Add", out, List.of(x, attnOut)), lastStage ? Ports.RESID_OUT : null);

            String mid = hook(p + "hook_resid_mid", out -> g.op("Add", out, List.of(x, attnOut)));
            String ln2 = layerNorm(p + "ln2.", mid, wp + "ln_2");
            String pre = hook(p + "mlp.hook_pre", out -> linear(ln2, wp + "mlp.c_fc", out));
            String post = hook(p + "mlp.hook_post", out -> g.op("Gelu", out, List.of(pre), "approximate", "tanh"));
            String mlpOut = hook(p + "hook_mlp_out", out -> linear(post, wp + "mlp.c_proj", out));
            return hook(p + "hook_resid_post", out -> g.op("Add", out, List.of(mid, mlpOut)), lastStage ? Ports.RESID_OUT : null);
        }

        /** attn_out from z: one matrix product, or through per-head results when those are returned or patched. */
        String attentionOutput(String p, String wp, String z) {
            String resultName = p + "attn.hook_result";
            String bias = w(wp + "attn.c_proj.bias");
            if (!spec.outputs().contains(resultName) && !spec.patched().contains(resultName)) {
                return hook(p + "hook_attn_out", out -> {
                    String flat = g.op("Reshape", List.of(z, g.ints(0, 0, d)));
                    return linear(flat, wp + "attn.c_proj", out);
                });
            }
            // head-major [head, batch·pos, d_head] · [head, d_head, d_model]: one GEMM per head
            String zh = g.op("Reshape", List.of(g.op("Transpose", List.of(z), "perm", new long[]{2, 0, 1, 3}), g.ints(nh, -1, dh)));
            String wo = g.op("Reshape", List.of(w(wp + "attn.c_proj.weight"), g.ints(nh, dh, d)));
            String batchPos = g.op("Shape", List.of(z), "start", 0L, "end", 2L);
            String headMajor = g.op("Reshape", List.of(g.op("MatMul", List.of(zh, wo)),
                    g.op("Concat", List.of(g.ints(nh), batchPos, g.ints(d)), "axis", 0))); // [head, batch, pos, d_model]
            String summed;
            if (spec.patched().contains(resultName)) {
                String result = hook(resultName, out -> g.op("Transpose", out, List.of(headMajor), "perm", new long[]{1, 2, 0, 3}));
                summed = g.op("ReduceSum", List.of(result, g.ints(2)), "keepdims", 0);
            } else {
                // returned head-major as computed: the runtime reorders rows while copying, which it must do anyway
                g.output(headMajor, DataType.FLOAT, nh, "batch", "pos", d);
                hookPorts.put(resultName, headMajor);
                hookLayouts.put(resultName, new int[]{1, 2, 0, 3});
                summed = g.op("ReduceSum", List.of(headMajor, g.ints(0)), "keepdims", 0);
            }
            return hook(p + "hook_attn_out", out -> g.op("Add", out, List.of(summed, bias)));
        }

        String unembed(String resid) {
            String y = layerNorm("ln_final.", resid, "ln_f");
            String flat = g.op("Reshape", List.of(y, g.ints(-1, d)));
            String logits = g.op("Gemm", List.of(flat, w("wte.weight")), "transB", 1);
            String shape = g.op("Concat", List.of(g.op("Shape", List.of(y), "start", 0L, "end", 2L), g.ints(config.dVocab())), "axis", 0);
            return g.op("Reshape", Ports.LOGITS, List.of(logits, shape));
        }

        String linear(String x, String prefix, String out) {
            String y = g.op("MatMul", List.of(x, w(prefix + ".weight")));
            return g.op("Add", out, List.of(y, w(prefix + ".bias")));
        }

        /** LayerNorm hooks {@code prefix}hook_scale ([b,p,1], sqrt(var+eps)) and hook_normalized (after ·w + b). */
        String layerNorm(String prefix, String x, String weightPrefix) {
            String scaleName = prefix + "hook_scale", normName = prefix + "hook_normalized";
            String wt = w(weightPrefix + ".weight"), bs = w(weightPrefix + ".bias");
            float eps = (float) config.lnEps();
            if (spec.patched().contains(scaleName)) {
                String axes = g.ints(-1);
                String xc = g.op("Sub", List.of(x, g.op("ReduceMean", List.of(x, axes), "keepdims", 1)));
                String var = g.op("ReduceMean", List.of(g.op("Mul", List.of(xc, xc)), axes), "keepdims", 1);
                String scale = hook(scaleName, out -> g.op("Sqrt", out, List.of(g.op("Add", List.of(var, g.floatScalar(eps))))));
                return hook(normName, out -> g.op("Add", out, List.of(g.op("Mul", List.of(g.op("Div", List.of(xc, scale)), wt)), bs)));
            }
            boolean wantScale = spec.outputs().contains(scaleName);
            return hook(normName, out -> {
                if (!wantScale) return g.op("LayerNormalization", out, List.of(x, wt, bs), "axis", -1, "epsilon", eps);
                String inv = g.fresh("inv_std");
                g.opMulti("LayerNormalization", List.of(out, "", inv), List.of(x, wt, bs), "axis", -1, "epsilon", eps);
                hook(scaleName, o -> g.op("Reciprocal", o, List.of(inv)));
                return out;
            });
        }

        /** [pos, pos] boolean, true where a query may attend to a key (key ≤ query); built once per graph. */
        String causalMask(String resid) {
            if (causalMask == null) {
                String n = g.op("Squeeze", List.of(g.op("Shape", List.of(resid), "start", 1L, "end", 2L), g.ints(0)));
                String r = g.op("Range", List.of(g.intScalar(0), n, g.intScalar(1)));
                String rows = g.op("Unsqueeze", List.of(r, g.ints(1)));
                String cols = g.op("Unsqueeze", List.of(r, g.ints(0)));
                causalMask = g.op("GreaterOrEqual", List.of(rows, cols));
            }
            return causalMask;
        }
    }
}
