package dev.loupe.circuits;

import ai.onnx.proto.OnnxMl.TensorProto.DataType;
import dev.loupe.compiler.GraphBuilder;
import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;

import java.util.ArrayList;
import java.util.List;

/**
 * Writes the ONNX graphs of circuit discovery over the {@link EdgeGraph}. Every receiver reads its own copy of its
 * residual input, so a head's q, k and v are computed from three separate inputs.
 *
 * <p>Internal tensors carry two leading axes {@code [sets, pairs]}: one row of the batch per (edge set, pair).
 * Weights are inputs under their Hugging Face names. Inputs shared by every variant: {@link #EMBED}
 * {@code [pairs, pos, d]} (the {@code input} sender, so EAP-IG can interpolate it) and {@link #LAST}
 * {@code [pairs, pos]} (1 at the position the metric reads).
 * <ul>
 *   <li>{@link Variant#SENDERS}: the plain forward pass; outputs every sender's output {@link #SENDERS_OUT}
 *       {@code [senders, pairs, pos, d]} and the last position's logits {@link #LOGITS_LAST} {@code [1, pairs, vocab]}.</li>
 *   <li>{@link Variant#MIXED}: exact evaluation. Inputs {@link #CORRUPT} (the corrupted run's senders, as above) and
 *       {@link #ABSENT} {@code [sets, senders, receivers]} (1 where an edge is not in the set). Receiver v of set s
 *       reads {@code Σ_u this_run(u) − absent[s,u,v]·(this_run(u) − corrupt(u))} plus the attention output biases;
 *       outputs {@link #LOGITS_LAST} {@code [sets, pairs, vocab]}.</li>
 *   <li>{@link Variant#SCORES}: forward and backward on the plain pass. Inputs {@link #ANSWER}, {@link #WRONG}
 *       {@code [pairs]} and {@link #DELTA} {@code [senders, pairs, pos, d]}; outputs {@link #METRIC} (the sum over
 *       pairs of the logit difference) and {@link #SCORES_OUT} {@code [senders, receivers]}
 *       {@code = Σ_pairs,pos,d delta[u]·∂metric/∂x_v}, the gradient taken at each receiver's own copy.</li>
 * </ul>
 */
public final class CircuitGraphs {
    public enum Variant { SENDERS, MIXED, SCORES }

    public static final String EMBED = "embed", LAST = "last", CORRUPT = "corrupt", ABSENT = "absent",
            ANSWER = "answer", WRONG = "wrong", DELTA = "delta";
    public static final String SENDERS_OUT = "senders", LOGITS_LAST = "logits_last", METRIC = "metric", SCORES_OUT = "scores";

    private CircuitGraphs() {}

    public static byte[] compile(GptConfig config, Variant variant) { return new Build(config, variant).run(); }

    private static final class Build {
        final GptConfig c;
        final Variant variant;
        final EdgeGraph edges;
        final GraphBuilder g = new GraphBuilder("loupe_circuits");
        final int d, nh, dh, nU, nR;
        final float eps;
        String causal, stacked; // stacked: [sets, pairs, senders so far, pos·d] of this_run − corrupt (MIXED)
        final List<String> senderOuts = new ArrayList<>();

        Build(GptConfig c, Variant variant) {
            this.c = c;
            this.variant = variant;
            this.edges = new EdgeGraph(c);
            d = c.dModel();
            nh = c.nHeads();
            dh = c.dHead();
            nU = edges.senderCount();
            nR = edges.receiverCount();
            eps = (float) c.lnEps();
        }

        boolean mixed() { return variant == Variant.MIXED; }

        byte[] run() {
            for (var e : GptWeights.expectedShapes(c).entrySet()) {
                Object[] dims = new Object[e.getValue().length];
                for (int i = 0; i < dims.length; i++) dims[i] = e.getValue()[i];
                g.input(e.getKey(), DataType.FLOAT, dims);
            }
            g.input(EMBED, DataType.FLOAT, "pairs", "pos", d);
            g.input(LAST, DataType.FLOAT, "pairs", "pos");
            String sets = g.ints(1);
            if (mixed()) {
                g.input(CORRUPT, DataType.FLOAT, nU, "pairs", "pos", d);
                g.input(ABSENT, DataType.FLOAT, "sets", nU, nR);
                sets = g.op("Shape", List.of(ABSENT), "start", 0L, "end", 1L);
            }
            if (variant == Variant.SCORES) {
                g.input(ANSWER, DataType.INT64, "pairs");
                g.input(WRONG, DataType.INT64, "pairs");
                g.input(DELTA, DataType.FLOAT, nU, "pairs", "pos", d);
            }
            String corruptFlat = mixed() ? g.op("Reshape", List.of(CORRUPT, g.ints(nU, 0, -1))) : null; // [U, pairs, pos·d]
            String embedShape = g.op("Concat", List.of(sets, g.op("Shape", List.of(EMBED))), "axis", 0);
            String x = g.op("Expand", List.of(g.op("Unsqueeze", List.of(EMBED, g.ints(0))), embedShape)); // [S, P, T, d]
            addSender(x, 1, corruptFlat);

            Layer[] saved = new Layer[c.nLayers()];
            for (int l = 0; l < c.nLayers(); l++) {
                saved[l] = layer(l, x, corruptFlat);
                x = saved[l].out;
            }
            String xLogits = readerInput(x, edges.sendersBefore(c.nLayers()), nR - 1, 1, false); // [S, P, T, d]
            String lastMask = g.op("Unsqueeze", List.of(LAST, g.ints(0, 3)));                        // [1, P, T, 1]
            if (variant != Variant.SCORES) {
                String xLast = g.op("ReduceSum", List.of(g.op("Mul", List.of(xLogits, lastMask)), g.ints(2)), "keepdims", 0);
                String y = g.op("LayerNormalization", List.of(xLast, "ln_f.weight", "ln_f.bias"), "axis", -1, "epsilon", eps);
                String flat = g.op("Gemm", List.of(g.op("Reshape", List.of(y, g.ints(-1, d))), "wte.weight"), "transB", 1);
                g.op("Reshape", LOGITS_LAST, List.of(flat, g.op("Concat", List.of(sets, g.ints(-1, c.dVocab())), "axis", 0)));
                g.output(LOGITS_LAST, DataType.FLOAT, mixed() ? "sets" : 1, "pairs", c.dVocab());
                if (variant == Variant.SENDERS) {
                    g.op("Concat", SENDERS_OUT, senderOuts, "axis", 0);
                    g.output(SENDERS_OUT, DataType.FLOAT, nU, "pairs", "pos", d);
                }
                return g.build().toByteArray();
            }
            return backward(saved, xLogits, lastMask);
        }

        // ---------------------------------------------------------------- forward

        final class Layer {
            String in, xhat1, inv1, q, k, v, pattern, mid, xhat2, inv2, pre, out;
        }

        /**
         * The copies of the residual {@code x} read by {@code count} receivers from {@code firstReceiver} on: in the
         * plain pass all equal {@code x} ([S, P, 1, T, d] when {@code perReceiver}, else [S, P, T, d]); in exact
         * evaluation each subtracts its absent senders' differences ([S, P, count, T, d]).
         */
        String readerInput(String x, int upstream, int firstReceiver, int count, boolean perReceiver) {
            if (!mixed()) return perReceiver ? g.op("Unsqueeze", List.of(x, g.ints(2))) : x;
            String a = g.op("Slice", List.of(ABSENT, g.ints(0, firstReceiver), g.ints(upstream, firstReceiver + count), g.ints(1, 2)));
            String at = g.op("Unsqueeze", List.of(g.op("Transpose", List.of(a), "perm", new long[]{0, 2, 1}), g.ints(1))); // [S,1,count,U']
            String mix = g.op("MatMul", List.of(at, stacked));                                                      // [S,P,count,T·d]
            if (!perReceiver) return g.op("Sub", List.of(x, g.op("Reshape", List.of(mix, g.ints(0, 0, -1, d)))));
            return g.op("Sub", List.of(g.op("Unsqueeze", List.of(x, g.ints(2))), g.op("Reshape", List.of(mix, g.ints(0, 0, 0, -1, d)))));
        }

        /** Records senders ({@code value} [S, P, n, T, d] or, for n = 1, [S, P, T, d]) for the outputs and the mixing. */
        void addSender(String value, int n, String corruptFlat) {
            int first = countedSenders;
            countedSenders += n;
            if (variant == Variant.SENDERS) // as [n, P, T, d]; for n = 1 the leading S = 1 axis is the sender axis
                senderOuts.add(n == 1 ? value : g.op("Transpose", List.of(g.op("Squeeze", List.of(value, g.ints(0)))), "perm", new long[]{1, 0, 2, 3}));
            if (!mixed()) return;
            String flat = g.op("Reshape", List.of(value, g.ints(0, 0, n, -1)));                                       // [S,P,n,T·d]
            String corr = g.op("Transpose", List.of(g.op("Slice", List.of(corruptFlat, g.ints(first), g.ints(first + n), g.ints(0)))), "perm", new long[]{1, 0, 2});
            String diff = g.op("Sub", List.of(flat, corr));
            stacked = stacked == null ? diff : g.op("Concat", List.of(stacked, diff), "axis", 2);
        }

        int countedSenders;

        Layer layer(int l, String x, String corruptFlat) {
            String wp = "h." + l + ".";
            Layer s = new Layer();
            s.in = x;
            int up = edges.sendersBefore(l), r0 = l * edges.receiversPerLayer();
            String[] ys = new String[3];
            if (mixed()) { // each of q, k, v: its heads' own copies [S, P, H, T, d]
                for (int part = 0; part < 3; part++)
                    ys[part] = g.op("LayerNormalization", List.of(readerInput(x, up, r0 + part * nh, nh, true), wp + "ln_1.weight", wp + "ln_1.bias"), "axis", -1, "epsilon", eps);
            } else {       // every copy equals x: one LayerNorm, broadcast over heads [S, P, 1, T, d]
                String xs = g.op("Unsqueeze", List.of(x, g.ints(2)));
                String y = g.fresh("ln1_y"), mean = g.fresh("ln1_mean"), inv = g.fresh("ln1_inv");
                g.opMulti("LayerNormalization", List.of(y, mean, inv), List.of(xs, wp + "ln_1.weight", wp + "ln_1.bias"), "axis", -1, "epsilon", eps);
                s.inv1 = inv;
                s.xhat1 = g.op("Mul", List.of(g.op("Sub", List.of(xs, mean)), inv));
                ys[0] = ys[1] = ys[2] = y;
            }
            String yq = ys[0], yk = ys[1], yv = ys[2];
            s.q = project(yq, wp, 0);
            s.k = project(yk, wp, 1);
            s.v = project(yv, wp, 2);
            String kt = g.op("Transpose", List.of(s.k), "perm", new long[]{0, 1, 2, 4, 3});
            String raw = g.op("Mul", List.of(g.op("MatMul", List.of(s.q, kt)), g.floatScalar((float) (1.0 / Math.sqrt(dh)))));
            s.pattern = g.op("Softmax", List.of(g.op("Where", List.of(causalMask(), raw, g.floatScalar(Float.NEGATIVE_INFINITY)))), "axis", -1);
            String z = g.op("MatMul", List.of(s.pattern, s.v));                                  // [S,P,H,T,dh]
            String result = g.op("MatMul", List.of(z, wo(wp)));                                  // [S,P,H,T,d]
            String attnOut = g.op("Add", List.of(g.op("ReduceSum", List.of(result, g.ints(2)), "keepdims", 0), wp + "attn.c_proj.bias"));
            addSender(result, nh, corruptFlat);
            s.mid = g.op("Add", List.of(x, attnOut));
            if (c.attnOnly()) {
                s.out = s.mid;
                return s;
            }
            String xm = readerInput(s.mid, up + nh, r0 + 3 * nh, 1, false);
            String y2 = g.fresh("ln2_y"), mean2 = g.fresh("ln2_mean"), inv2 = g.fresh("ln2_inv");
            g.opMulti("LayerNormalization", List.of(y2, mean2, inv2), List.of(xm, wp + "ln_2.weight", wp + "ln_2.bias"), "axis", -1, "epsilon", eps);
            s.inv2 = inv2;
            s.xhat2 = g.op("Mul", List.of(g.op("Sub", List.of(xm, mean2)), inv2));
            s.pre = g.op("Add", List.of(g.op("MatMul", List.of(y2, wp + "mlp.c_fc.weight")), wp + "mlp.c_fc.bias"));
            String post = g.op("Gelu", List.of(s.pre), "approximate", "tanh");
            String mlpOut = g.op("Add", List.of(g.op("MatMul", List.of(post, wp + "mlp.c_proj.weight")), wp + "mlp.c_proj.bias"));
            addSender(mlpOut, 1, corruptFlat);
            s.out = g.op("Add", List.of(s.mid, mlpOut));
            return s;
        }

        /** Head-major [H, d, dh] slice {@code part} (0 q, 1 k, 2 v) of c_attn. */
        String wqkv(String wp, int part) {
            String w = g.op("Slice", List.of(wp + "attn.c_attn.weight", g.ints((long) part * d), g.ints((long) (part + 1) * d), g.ints(1)));
            return g.op("Transpose", List.of(g.op("Reshape", List.of(w, g.ints(d, nh, dh)))), "perm", new long[]{1, 0, 2});
        }

        String project(String y, String wp, int part) {
            String b = g.op("Slice", List.of(wp + "attn.c_attn.bias", g.ints((long) part * d), g.ints((long) (part + 1) * d), g.ints(0)));
            return g.op("Add", List.of(g.op("MatMul", List.of(y, wqkv(wp, part))), g.op("Reshape", List.of(b, g.ints(nh, 1, dh)))));
        }

        String wo(String wp) { return g.op("Reshape", List.of(wp + "attn.c_proj.weight", g.ints(nh, dh, d))); }

        String causalMask() {
            if (causal == null) {
                String n = g.op("Squeeze", List.of(g.op("Shape", List.of(EMBED), "start", 1L, "end", 2L), g.ints(0)));
                String r = g.op("Range", List.of(g.intScalar(0), n, g.intScalar(1)));
                causal = g.op("GreaterOrEqual", List.of(g.op("Unsqueeze", List.of(r, g.ints(1))), g.op("Unsqueeze", List.of(r, g.ints(0)))));
            }
            return causal;
        }

        // ---------------------------------------------------------------- backward (SCORES)

        /** LayerNorm's vector-Jacobian product: the gradient of its input from that of its output. */
        String lnBackward(String xhat, String inv, String gamma, String gy) {
            String gx = g.op("Mul", List.of(gy, gamma));
            String meanG = g.op("ReduceMean", List.of(gx, g.ints(-1)), "keepdims", 1);
            String meanDot = g.op("ReduceMean", List.of(g.op("Mul", List.of(gx, xhat)), g.ints(-1)), "keepdims", 1);
            return g.op("Mul", List.of(g.op("Sub", List.of(g.op("Sub", List.of(gx, meanG)), g.op("Mul", List.of(xhat, meanDot)))), inv));
        }

        String geluGrad(String x) {
            float k = (float) Math.sqrt(2.0 / Math.PI), a = 0.044715f;
            String x2 = g.op("Mul", List.of(x, x));
            String t = g.op("Tanh", List.of(g.op("Mul", List.of(g.op("Mul", List.of(x, g.op("Add", List.of(g.op("Mul", List.of(x2, g.floatScalar(a))), g.floatScalar(1f))))), g.floatScalar(k)))));
            String left = g.op("Mul", List.of(g.op("Add", List.of(t, g.floatScalar(1f))), g.floatScalar(0.5f)));
            String sech2 = g.op("Sub", List.of(g.floatScalar(1f), g.op("Mul", List.of(t, t))));
            String dInner = g.op("Mul", List.of(g.op("Add", List.of(g.op("Mul", List.of(x2, g.floatScalar(3 * a))), g.floatScalar(1f))), g.floatScalar(k)));
            return g.op("Add", List.of(left, g.op("Mul", List.of(g.op("Mul", List.of(g.op("Mul", List.of(x, g.floatScalar(0.5f))), sech2)), dInner))));
        }

        String transposeLast(String x, int rank) {
            long[] perm = new long[rank];
            for (int i = 0; i < rank; i++) perm[i] = i;
            perm[rank - 1] = rank - 2;
            perm[rank - 2] = rank - 1;
            return g.op("Transpose", List.of(x), "perm", perm);
        }

        /** Σ_pairs,pos,d delta[u] · grad[v] for receiver gradients {@code grads} [1, P, n, T, d]: [U, n]. */
        String scoreBlock(String grads, String deltaFlat) {
            String perReceiver = g.op("Transpose", List.of(g.op("Squeeze", List.of(grads, g.ints(0)))), "perm", new long[]{1, 0, 2, 3});
            String flat = g.op("Reshape", List.of(perReceiver, g.ints(0, -1)));
            return g.op("Gemm", List.of(deltaFlat, flat), "transB", 1);
        }

        byte[] backward(Layer[] saved, String xLogits, String lastMask) {
            String deltaFlat = g.op("Reshape", List.of(DELTA, g.ints(nU, -1)));
            String y = g.fresh("lnf_y"), mean = g.fresh("lnf_mean"), inv = g.fresh("lnf_inv");
            g.opMulti("LayerNormalization", List.of(y, mean, inv), List.of(xLogits, "ln_f.weight", "ln_f.bias"), "axis", -1, "epsilon", eps);
            String xhat = g.op("Mul", List.of(g.op("Sub", List.of(xLogits, mean)), inv));
            String dir = g.op("Sub", List.of(g.op("Gather", List.of("wte.weight", ANSWER), "axis", 0), g.op("Gather", List.of("wte.weight", WRONG), "axis", 0)));
            String gy = g.op("Mul", List.of(lastMask, g.op("Unsqueeze", List.of(dir, g.ints(0, 2)))));   // [1,P,T,d]
            g.op("ReduceSum", METRIC, List.of(g.op("Mul", List.of(gy, y))), "keepdims", 0);
            g.output(METRIC, DataType.FLOAT);
            String gR = lnBackward(xhat, inv, "ln_f.weight", gy);
            List<String> blocks = new ArrayList<>();
            blocks.add(scoreBlock(g.op("Unsqueeze", List.of(gR, g.ints(2))), deltaFlat));
            float scale = (float) (1.0 / Math.sqrt(dh));
            for (int l = c.nLayers() - 1; l >= 0; l--) {
                Layer s = saved[l];
                String wp = "h." + l + ".";
                String gMid = gR, gm = null;
                if (!c.attnOnly()) {
                    String gPost = g.op("MatMul", List.of(gR, transposeLast(wp + "mlp.c_proj.weight", 2)));
                    String gPre = g.op("Mul", List.of(gPost, geluGrad(s.pre)));
                    String gY2 = g.op("MatMul", List.of(gPre, transposeLast(wp + "mlp.c_fc.weight", 2)));
                    gm = lnBackward(s.xhat2, s.inv2, wp + "ln_2.weight", gY2);
                    gMid = g.op("Add", List.of(gR, gm));
                }
                String gz = g.op("MatMul", List.of(g.op("Unsqueeze", List.of(gMid, g.ints(2))), transposeLast(wo(wp), 3))); // [1,P,H,T,dh]
                String gP = g.op("MatMul", List.of(gz, transposeLast(s.v, 5)));
                String gv = g.op("MatMul", List.of(transposeLast(s.pattern, 5), gz));
                String rowDot = g.op("ReduceSum", List.of(g.op("Mul", List.of(gP, s.pattern)), g.ints(-1)), "keepdims", 1);
                String gS = g.op("Mul", List.of(g.op("Mul", List.of(s.pattern, g.op("Sub", List.of(gP, rowDot)))), g.floatScalar(scale)));
                String gq = g.op("MatMul", List.of(gS, s.k));
                String gk = g.op("MatMul", List.of(transposeLast(gS, 5), s.q));
                List<String> parts = new ArrayList<>();
                String sum = null;
                int part = 0;
                for (String gh : new String[]{gq, gk, gv}) {
                    String gy1 = g.op("MatMul", List.of(gh, transposeLast(wqkv(wp, part++), 3)));         // [1,P,H,T,d]
                    String gx = lnBackward(s.xhat1, s.inv1, wp + "ln_1.weight", gy1);
                    parts.add(gx);
                    sum = sum == null ? gx : g.op("Add", List.of(sum, gx));
                }
                if (gm != null) parts.add(g.op("Unsqueeze", List.of(gm, g.ints(2))));
                blocks.add(scoreBlock(g.op("Concat", parts, "axis", 2), deltaFlat));
                gR = g.op("Add", List.of(gMid, g.op("ReduceSum", List.of(sum, g.ints(2)), "keepdims", 0)));
            }
            java.util.Collections.reverse(blocks);
            g.op("Concat", SCORES_OUT, blocks, "axis", 1);
            g.output(SCORES_OUT, DataType.FLOAT, nU, nR);
            return g.build().toByteArray();
        }
    }
}
