package dev.loupe.weights;

import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;

/**
 * A model's weights as TransformerLens processes them in {@code from_pretrained} (its defaults {@code fold_ln},
 * {@code center_writing_weights}, {@code center_unembed}), so that the circuits read off them compare with
 * {@code model.QK}, {@code model.OV}, {@code model.W_E} and {@code model.W_U}:
 * <ul>
 * <li>W_Q, W_K, W_V of a head are scaled by ln_1's weight (folded) and centred over d_model (they read a
 * LayerNorm's centred output, so their mean over d_model cannot matter);</li>
 * <li>W_O and W_E are centred over d_model (they write into the residual stream, whose mean every LayerNorm removes);</li>
 * <li>W_U = diag(ln_f.w)·W_Eᵀ (tied) centred over d_model, then over the vocabulary (softmax ignores a constant).</li>
 * </ul>
 * LayerNorm's division by the norm of its input and all biases are left out, as in TransformerLens's QK and OV.
 * Everything is held in double; W_E and W_U as [d_vocab][d_model] {@link VocabTable}s.
 */
public final class FoldedWeights {
    private final GptConfig config;
    private final VocabTable wE, wU;
    /** [layer][head]: W_Q, W_K, W_V as [d_model][d_head]; W_O as [d_head][d_model]. */
    private final double[][][][] wQ, wK, wV, wO;

    private FoldedWeights(GptConfig config, VocabTable wE, VocabTable wU,
                          double[][][][] wQ, double[][][][] wK, double[][][][] wV, double[][][][] wO) {
        this.config = config;
        this.wE = wE;
        this.wU = wU;
        this.wQ = wQ;
        this.wK = wK;
        this.wV = wV;
        this.wO = wO;
    }

    public static FoldedWeights of(GptWeights w) {
        GptConfig c = w.config();
        int d = c.dModel(), dh = c.dHead(), nh = c.nHeads(), nl = c.nLayers(), vocab = c.dVocab();
        float[] wte = w.get("wte.weight").data();
        VocabTable e = VocabTable.of(vocab, d, (t, row) -> {
            for (int i = 0; i < d; i++) row[i] = wte[t * d + i];
            centre(row);
        });
        float[] lnf = w.get("ln_f.weight").data();
        VocabTable.Rows unembed = (t, row) -> {
            for (int i = 0; i < d; i++) row[i] = (double) wte[t * d + i] * lnf[i];
            centre(row); // over d_model, for each token
        };
        double[] mean = new double[d], row = new double[d];
        for (int t = 0; t < vocab; t++) {
            unembed.fill(t, row);
            for (int i = 0; i < d; i++) mean[i] += row[i];
        }
        VocabTable u = VocabTable.of(vocab, d, (t, r) -> {
            unembed.fill(t, r);
            for (int i = 0; i < d; i++) r[i] -= mean[i] / vocab; // over the vocabulary
        });

        double[][][][] q = new double[nl][nh][][], k = new double[nl][nh][][], v = new double[nl][nh][][], o = new double[nl][nh][][];
        for (int l = 0; l < nl; l++) {
            float[] attn = w.layer(l, "attn.c_attn.weight").data();   // [d][3d], y = x·W
            float[] proj = w.layer(l, "attn.c_proj.weight").data();   // [d][d]
            float[] ln1 = w.layer(l, "ln_1.weight").data();
            for (int h = 0; h < nh; h++) {
                q[l][h] = reading(attn, ln1, d, 3 * d, h * dh, dh);
                k[l][h] = reading(attn, ln1, d, 3 * d, d + h * dh, dh);
                v[l][h] = reading(attn, ln1, d, 3 * d, 2 * d + h * dh, dh);
                double[][] out = new double[dh][d];
                for (int a = 0; a < dh; a++) {
                    for (int i = 0; i < d; i++) out[a][i] = proj[(h * dh + a) * d + i];
                    centre(out[a]);
                }
                o[l][h] = out;
            }
        }
        return new FoldedWeights(c, e, u, q, k, v, o);
    }

    /** Columns [col, col + dh) of a [d][width] matrix, rows scaled by the LayerNorm weight, centred over the rows. */
    private static double[][] reading(float[] m, float[] ln, int d, int width, int col, int dh) {
        double[][] out = new double[d][dh];
        double[] mean = new double[dh];
        for (int i = 0; i < d; i++)
            for (int a = 0; a < dh; a++) {
                out[i][a] = (double) m[i * width + col + a] * ln[i];
                mean[a] += out[i][a];
            }
        for (int i = 0; i < d; i++) for (int a = 0; a < dh; a++) out[i][a] -= mean[a] / d;
        return out;
    }

    private static void centre(double[] x) {
        double s = 0;
        for (double v : x) s += v;
        s /= x.length;
        for (int i = 0; i < x.length; i++) x[i] -= s;
    }

    public GptConfig config() { return config; }

    /** [d_vocab][d_model], centred over d_model. */
    public VocabTable embed() { return wE; }

    /** W_U transposed: [d_vocab][d_model] (row t is the direction whose dot product with the stream is logit t). */
    public VocabTable unembedT() { return wU; }

    public double[][] wQ(int l, int h) { return wQ[l][h]; }
    public double[][] wK(int l, int h) { return wK[l][h]; }
    public double[][] wV(int l, int h) { return wV[l][h]; }
    public double[][] wO(int l, int h) { return wO[l][h]; }
}
