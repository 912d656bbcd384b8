package dev.loupe.runtime;

import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.model.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A plain-Java GPT-2 forward pass in double precision, written straight from the textbook definition, one
 * prompt at a time. Tests use it as an independent check of the compiled graphs for any config.
 */
final class ReferenceForward {
    private final GptConfig c;
    private final GptWeights w;

    ReferenceForward(GptWeights w) {
        this.c = w.config();
        this.w = w;
    }

    /** Every hook (TransformerLens names, batch 1) plus "logits". */
    Map<String, Tensor> run(int[] tokens) {
        int n = tokens.length, d = c.dModel(), h = c.nHeads(), dh = c.dHead();
        Map<String, Tensor> out = new LinkedHashMap<>();
        double[][] embed = new double[n][d], pos = new double[n][d], x = new double[n][d];
        for (int t = 0; t < n; t++)
            for (int i = 0; i < d; i++) {
                embed[t][i] = w.get("wte.weight").get(tokens[t], i);
                pos[t][i] = w.get("wpe.weight").get(t, i);
                x[t][i] = embed[t][i] + pos[t][i];
            }
        out.put("hook_embed", tensor(embed));
        out.put("hook_pos_embed", tensor(pos));
        for (int l = 0; l < c.nLayers(); l++) {
            String p = "blocks." + l + ".", wp = "h." + l + ".";
            out.put(p + "hook_resid_pre", tensor(x));
            double[][] ln1 = layerNorm(x, wp + "ln_1", p + "ln1.", out);
            double[][] qkv = linear(ln1, wp + "attn.c_attn");
            double[][][] q = new double[n][h][dh], k = new double[n][h][dh], v = new double[n][h][dh];
            for (int t = 0; t < n; t++)
                for (int hh = 0; hh < h; hh++)
                    for (int e = 0; e < dh; e++) {
                        q[t][hh][e] = qkv[t][hh * dh + e];
                        k[t][hh][e] = qkv[t][d + hh * dh + e];
                        v[t][hh][e] = qkv[t][2 * d + hh * dh + e];
                    }
            double[][][] scores = new double[h][n][n], pattern = new double[h][n][n];
            for (int hh = 0; hh < h; hh++)
                for (int a = 0; a < n; a++) {
                    double max = Double.NEGATIVE_INFINITY;
                    for (int b = 0; b < n; b++) {
                        if (b > a) {
                            scores[hh][a][b] = Double.NEGATIVE_INFINITY;
                            continue;
                        }
                        double s = 0;
                        for (int e = 0; e < dh; e++) s += q[a][hh][e] * k[b][hh][e];
                        scores[hh][a][b] = s / Math.sqrt(dh);
                        max = Math.max(max, scores[hh][a][b]);
                    }
                    double sum = 0;
                    for (int b = 0; b <= a; b++) sum += pattern[hh][a][b] = Math.exp(scores[hh][a][b] - max);
                    for (int b = 0; b <= a; b++) pattern[hh][a][b] /= sum;
                }
            double[][][] z = new double[n][h][dh];
            for (int t = 0; t < n; t++)
                for (int hh = 0; hh < h; hh++)
                    for (int b = 0; b <= t; b++)
                        for (int e = 0; e < dh; e++) z[t][hh][e] += pattern[hh][t][b] * v[b][hh][e];
            Tensor wo = w.get(wp + "attn.c_proj.weight"), bo = w.get(wp + "attn.c_proj.bias");
            double[][][] result = new double[n][h][d];
            double[][] attnOut = new double[n][d];
            for (int t = 0; t < n; t++)
                for (int hh = 0; hh < h; hh++)
                    for (int e = 0; e < dh; e++)
                        for (int i = 0; i < d; i++) result[t][hh][i] += z[t][hh][e] * wo.get(hh * dh + e, i);
            for (int t = 0; t < n; t++)
                for (int i = 0; i < d; i++) {
                    attnOut[t][i] = bo.get(i);
                    for (int hh = 0; hh < h; hh++) attnOut[t][i] += result[t][hh][i];
                }
            out.put(p + "attn.hook_q", tensor(new double[][][][]{q}));
            out.put(p + "attn.hook_k", tensor(new double[][][][]{k}));
            out.put(p + "attn.hook_v", tensor(new double[][][][]{v}));
            out.put(p + "attn.hook_attn_scores", tensor(new double[][][][]{scores}));
            out.put(p + "attn.hook_pattern", tensor(new double[][][][]{pattern}));
            out.put(p + "attn.hook_z", tensor(new double[][][][]{z}));
            out.put(p + "attn.hook_result", tensor(new double[][][][]{result}));
            out.put(p + "hook_attn_out", tensor(attnOut));
            double[][] mid = add(x, attnOut);
            if (c.attnOnly()) {
                x = mid;
            } else {
                out.put(p + "hook_resid_mid", tensor(mid));
                double[][] ln2 = layerNorm(mid, wp + "ln_2", p + "ln2.", out);
                double[][] pre = linear(ln2, wp + "mlp.c_fc");
                double[][] post = new double[n][c.dMlp()];
                for (int t = 0; t < n; t++)
                    for (int i = 0; i < c.dMlp(); i++) {
                        double u = pre[t][i];
                        post[t][i] = 0.5 * u * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (u + 0.044715 * u * u * u)));
                    }
                double[][] mlpOut = linear(post, wp + "mlp.c_proj");
                out.put(p + "mlp.hook_pre", tensor(pre));
                out.put(p + "mlp.hook_post", tensor(post));
                out.put(p + "hook_mlp_out", tensor(mlpOut));
                x = add(mid, mlpOut);
            }
            out.put(p + "hook_resid_post", tensor(x));
        }
        double[][] fin = layerNorm(x, "ln_f", "ln_final.", out);
        Tensor wte = w.get("wte.weight");
        double[][] logits = new double[n][c.dVocab()];
        for (int t = 0; t < n; t++)
            for (int vv = 0; vv < c.dVocab(); vv++) {
                double s = 0;
                for (int i = 0; i < d; i++) s += fin[t][i] * wte.get(vv, i);
                logits[t][vv] = s;
            }
        out.put("logits", tensor(logits));
        return out;
    }

    private double[][] layerNorm(double[][] x, String weights, String hookPrefix, Map<String, Tensor> out) {
        int n = x.length, d = c.dModel();
        double[][] y = new double[n][d], scale = new double[n][1];
        Tensor g = w.get(weights + ".weight"), b = w.get(weights + ".bias");
        for (int t = 0; t < n; t++) {
            double mean = 0, var = 0;
            for (double v : x[t]) mean += v;
            mean /= d;
            for (double v : x[t]) var += (v - mean) * (v - mean);
            var /= d;
            scale[t][0] = Math.sqrt(var + c.lnEps());
            for (int i = 0; i < d; i++) y[t][i] = (x[t][i] - mean) / scale[t][0] * g.get(i) + b.get(i);
        }
        out.put(hookPrefix + "hook_scale", tensor(scale));
        out.put(hookPrefix + "hook_normalized", tensor(y));
        return y;
    }

    private double[][] linear(double[][] x, String prefix) {
        Tensor wt = w.get(prefix + ".weight"), b = w.get(prefix + ".bias");
        int in = wt.dim(0), outDim = wt.dim(1);
        double[][] y = new double[x.length][outDim];
        float[] wd = wt.data();
        for (int t = 0; t < x.length; t++) {
            for (int o = 0; o < outDim; o++) y[t][o] = b.get(o);
            for (int i = 0; i < in; i++) {
                double xv = x[t][i];
                for (int o = 0; o < outDim; o++) y[t][o] += xv * wd[i * outDim + o];
            }
        }
        return y;
    }

    private static double[][] add(double[][] a, double[][] b) {
        double[][] o = new double[a.length][a[0].length];
        for (int i = 0; i < a.length; i++) for (int j = 0; j < a[0].length; j++) o[i][j] = a[i][j] + b[i][j];
        return o;
    }

    /** [n][d] → [1, n, d]. */
    private static Tensor tensor(double[][] a) {
        float[] f = new float[a.length * a[0].length];
        for (int i = 0; i < a.length; i++) for (int j = 0; j < a[0].length; j++) f[i * a[0].length + j] = (float) a[i][j];
        return new Tensor(f, 1, a.length, a[0].length);
    }

    private static Tensor tensor(double[][][][] a) {
        int d0 = a.length, d1 = a[0].length, d2 = a[0][0].length, d3 = a[0][0][0].length;
        float[] f = new float[d0 * d1 * d2 * d3];
        int k = 0;
        for (double[][][] x : a) for (double[][] y : x) for (double[] z : y) for (double v : z) f[k++] = (float) v;
        return new Tensor(f, d0, d1, d2, d3);
    }
}
