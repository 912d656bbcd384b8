package dev.loupe.neurons;

import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;

import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * What the weights alone say about every MLP neuron (DESIGN §9): its direct logit effect
 * {@code W_out[n] · W_U} with the final LayerNorm's weight folded into {@code W_U} (as TransformerLens's
 * {@code fold_ln} does; GPT-2's unembedding is the transposed token embedding), the top and bottom tokens of that
 * effect, its kurtosis and skew over the vocabulary (Gurnee et al.: kurtosis above 10 with positive skew is a
 * prediction neuron, with negative skew a suppression neuron), {@code ‖w_in‖}, {@code ‖w_out‖},
 * {@code cos(w_in, w_out)}, and congruence both ways: the neuron's most congruent token (its top logit effect) and
 * that token's most congruent neuron in the layer; the two agree for a mutually congruent pair.
 *
 * <p>Neurons are numbered globally, {@code g = layer · d_mlp + n}. Kurtosis is Pearson's (3 for a Gaussian).
 */
public final class WeightStats {
    public static final int LOGITS = 10;
    public static final int HIST_BINS = 50;
    public static final double PREDICTION_KURTOSIS = 10;

    public final int layers, dMlp;
    public final int[] topIds, bottomIds;        // [g * LOGITS + i], best first
    public final float[] topValues, bottomValues;
    public final float[] vocabKurtosis, vocabSkew, wIn, wOut, cos, effectMin, effectMax;
    public final int[] effectHist;               // [g * HIST_BINS + b] over [effectMin, effectMax]
    /** Per neuron: the layer-local neuron most congruent with this neuron's top token. */
    public final int[] topTokenNeuron;

    private WeightStats(int layers, int dMlp) {
        this.layers = layers;
        this.dMlp = dMlp;
        int n = layers * dMlp;
        topIds = new int[n * LOGITS];
        bottomIds = new int[n * LOGITS];
        topValues = new float[n * LOGITS];
        bottomValues = new float[n * LOGITS];
        vocabKurtosis = new float[n];
        vocabSkew = new float[n];
        wIn = new float[n];
        wOut = new float[n];
        cos = new float[n];
        effectMin = new float[n];
        effectMax = new float[n];
        effectHist = new int[n * HIST_BINS];
        topTokenNeuron = new int[n];
    }

    public int neurons() { return layers * dMlp; }

    /** "prediction", "suppression" or "" (neither). */
    public String neuronClass(int g) {
        if (!(vocabKurtosis[g] > PREDICTION_KURTOSIS)) return "";
        return vocabSkew[g] > 0 ? "prediction" : vocabSkew[g] < 0 ? "suppression" : "";
    }

    public boolean mutuallyCongruent(int g) { return topTokenNeuron[g] == g % dMlp; }

    /** {@code W_U} with {@code ln_final}'s weight folded in, transposed: [d_model][vocab]. */
    static float[][] unembedT(GptWeights w) {
        GptConfig c = w.config();
        float[] we = w.get("wte.weight").data();
        float[] lnw = w.get("ln_f.weight").data();
        int d = c.dModel(), v = c.dVocab();
        float[][] t = new float[d][v];
        for (int tok = 0; tok < v; tok++)
            for (int k = 0; k < d; k++) t[k][tok] = we[tok * d + k] * lnw[k];
        return t;
    }

    /** The direct logit effect of one neuron over the whole vocabulary. */
    public static float[] logitEffect(GptWeights w, int layer, int n) {
        return effect(w.layer(layer, "mlp.c_proj.weight").data(), n, w.config().dModel(), unembedT(w));
    }

    private static float[] effect(float[] wout, int n, int d, float[][] ut) {
        float[] e = new float[ut[0].length];
        for (int k = 0; k < d; k++) {
            float a = wout[n * d + k];
            float[] row = ut[k];
            for (int t = 0; t < e.length; t++) e[t] += a * row[t];
        }
        return e;
    }

    /** Every neuron's effect on one token's logit, [g]: "which neurons predict this token". */
    public static float[] effectsOnToken(GptWeights w, int token) {
        GptConfig c = w.config();
        int d = c.dModel();
        float[] we = w.get("wte.weight").data();
        float[] lnw = w.get("ln_f.weight").data();
        float[] out = new float[c.nLayers() * c.dMlp()];
        for (int l = 0; l < c.nLayers(); l++) {
            float[] wout = w.layer(l, "mlp.c_proj.weight").data();
            for (int n = 0; n < c.dMlp(); n++) {
                double s = 0;
                for (int k = 0; k < d; k++) s += (double) wout[n * d + k] * lnw[k] * we[token * d + k];
                out[l * c.dMlp() + n] = (float) s;
            }
        }
        return out;
    }

    public static WeightStats compute(GptWeights w) {
        GptConfig c = w.config();
        if (c.attnOnly()) throw new IllegalArgumentException("an attention-only model has no MLP neurons");
        int d = c.dModel(), m = c.dMlp(), v = c.dVocab();
        WeightStats s = new WeightStats(c.nLayers(), m);
        float[][] ut = unembedT(w);
        for (int l = 0; l < c.nLayers(); l++) {
            float[] win = w.layer(l, "mlp.c_fc.weight").data();   // [d, m]
            float[] wout = w.layer(l, "mlp.c_proj.weight").data(); // [m, d]
            float[] bestValue = new float[v];
            int[] bestNeuron = new int[v];
            Arrays.fill(bestValue, Float.NEGATIVE_INFINITY);
            int[] topToken = new int[m];
            int block = 64;
            for (int b0 = 0; b0 < m; b0 += block) {
                int b1 = Math.min(m, b0 + block);
                float[][] rows = new float[b1 - b0][];
                int layer = l, from = b0;
                IntStream.range(b0, b1).parallel().forEach(n -> {
                    float[] e = effect(wout, n, d, ut);
                    rows[n - from] = e;
                    s.summarise(layer * m + n, e);
                    double ni = 0, no = 0, dot = 0;
                    for (int k = 0; k < d; k++) {
                        double a = win[k * m + n], b = wout[n * d + k];
                        ni += a * a;
                        no += b * b;
                        dot += a * b;
                    }
                    int g = layer * m + n;
                    s.wIn[g] = (float) Math.sqrt(ni);
                    s.wOut[g] = (float) Math.sqrt(no);
                    s.cos[g] = (float) (dot / Math.max(1e-30, Math.sqrt(ni) * Math.sqrt(no)));
                });
                // in neuron order, so the first of equal values wins, as in the reference
                for (int n = b0; n < b1; n++) {
                    float[] e = rows[n - b0];
                    for (int t = 0; t < v; t++) if (e[t] > bestValue[t]) { bestValue[t] = e[t]; bestNeuron[t] = n; }
                    topToken[n] = s.topIds[(l * m + n) * LOGITS];
                }
            }
            for (int n = 0; n < m; n++) s.topTokenNeuron[l * m + n] = bestNeuron[topToken[n]];
        }
        return s;
    }

    /** Top/bottom tokens, moments and histogram of one neuron's effect vector. */
    private void summarise(int g, float[] e) {
        int v = e.length;
        double sum = 0;
        float lo = Float.POSITIVE_INFINITY, hi = Float.NEGATIVE_INFINITY;
        for (float x : e) {
            sum += x;
            lo = Math.min(lo, x);
            hi = Math.max(hi, x);
        }
        double mean = sum / v, m2 = 0, m3 = 0, m4 = 0;
        for (float x : e) {
            double dx = x - mean, dx2 = dx * dx;
            m2 += dx2;
            m3 += dx2 * dx;
            m4 += dx2 * dx2;
        }
        m2 /= v;
        m3 /= v;
        m4 /= v;
        vocabSkew[g] = (float) (m2 > 0 ? m3 / Math.pow(m2, 1.5) : 0);
        vocabKurtosis[g] = (float) (m2 > 0 ? m4 / (m2 * m2) : 0);
        effectMin[g] = lo;
        effectMax[g] = hi;
        for (float x : e) effectHist[g * HIST_BINS + Moments.bin(x, lo, hi, HIST_BINS)]++;
        int[] top = TopK.indices(e, LOGITS, true), bottom = TopK.indices(e, LOGITS, false);
        for (int i = 0; i < LOGITS && i < v; i++) {
            topIds[g * LOGITS + i] = top[i];
            topValues[g * LOGITS + i] = e[top[i]];
            bottomIds[g * LOGITS + i] = bottom[i];
            bottomValues[g * LOGITS + i] = e[bottom[i]];
        }
    }
}
