package dev.loupe.algorithmic;

import dev.loupe.jobs.Progress;
import dev.loupe.model.GptConfig;
import dev.loupe.model.Tensor;
import dev.loupe.runtime.Engine;
import dev.loupe.runtime.RunRequest;
import dev.loupe.runtime.RunResult;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A modular-addition model seen as Nanda et al. see it ("Progress measures for grokking via mechanistic
 * interpretability"): tokens {@code 0 … p-1} are the numbers, token {@code p} is {@code =}, the prompt is
 * {@code a b =} and the answer {@code (a + b) mod p} is read at {@code =}.
 *
 * <ul>
 * <li>The embedding's Fourier spectrum: the power of frequency k over the p number rows of W_E, the k and p−k terms
 *     together, summed over d_model; the key frequencies are the strongest ones.</li>
 * <li>p(answer) over the whole (a, b) grid, and accuracy on the training and the held-out pairs.</li>
 * <li>Each MLP neuron's activation at {@code =} over the grid, its 2-D Fourier power per frequency k (every term whose
 *     a- and b-frequencies are each 0 or ±k, the constant excluded) and its dominant frequency.</li>
 * </ul>
 */
public final class ModularAddition {
    /** Prompts per forward pass: bounds the activations held at once. */
    public static final int CHUNK = 2048;

    private ModularAddition() {}

    /**
     * @param power       power[k] for k = 0 … p/2 (k = 0 is the constant term)
     * @param keys        the strongest non-constant frequencies, strongest first
     * @param keyFraction the share of the non-constant power that {@code keys} hold
     */
    public record Spectrum(double[] power, int[] keys, double keyFraction) {}

    /**
     * @param answerProb    p(correct answer)[a][b]
     * @param correct       argmax over the numbers is the answer, [a][b]
     * @param neuronFreq    each neuron's dominant frequency
     * @param neuronFreqFraction the share of the neuron's non-constant power in its dominant frequency
     * @param neuronPower   [neuron][k]: share of the neuron's non-constant 2-D power in frequency k (k = 1 … p/2; index 0 unused)
     */
    public record Grid(int p, float[][] answerProb, boolean[][] correct, int[] neuronFreq, double[] neuronFreqFraction,
                       double[][] neuronPower, float[][][] activations) {
        /** Activation of one neuron at '=' over the grid, [a][b]. */
        public float[][] neuron(int n) {
            if (n < 0 || n >= neuronFreq.length) throw new IllegalArgumentException("neuron " + n + " is not in 0 … " + (neuronFreq.length - 1));
            float[][] g = new float[p][p];
            for (int a = 0; a < p; a++) for (int b = 0; b < p; b++) g[a][b] = activations[a][b][n];
            return g;
        }
    }

    /** p for a model whose first tokens are "0", "1", … and whose next token is "=", or -1. */
    public static int modulus(List<String> vocab) {
        int p = 0;
        while (p < vocab.size() && vocab.get(p).equals(String.valueOf(p))) p++;
        return p >= 2 && p < vocab.size() && vocab.get(p).equals("=") ? p : -1;
    }

    /** Power of each frequency of the rows 0 … p-1 of {@code embedding} [vocab, d] over the token axis. */
    public static Spectrum spectrum(Tensor embedding, int p, int nKeys) {
        int d = embedding.dim(1);
        float[] w = embedding.data();
        double[] power = new double[p / 2 + 1];
        double[][] cos = table(p, true), sin = table(p, false);
        for (int k = 0; k <= p / 2; k++) {
            double s = 0;
            for (int j = 0; j < d; j++) {
                double re = 0, im = 0;
                for (int t = 0; t < p; t++) {
                    re += w[t * d + j] * cos[k][t];
                    im -= w[t * d + j] * sin[k][t];
                }
                s += re * re + im * im;
            }
            // frequency p−k carries the same power as k (real input); p even has its Nyquist term once
            power[k] = (k == 0 || 2 * k == p) ? s : 2 * s;
        }
        return spectrumOf(power, nKeys);
    }

    static Spectrum spectrumOf(double[] power, int nKeys) {
        Integer[] order = new Integer[power.length - 1];
        for (int k = 1; k < power.length; k++) order[k - 1] = k;
        Arrays.sort(order, (x, y) -> Double.compare(power[y], power[x]));
        int n = Math.min(nKeys, order.length);
        int[] keys = new int[n];
        double total = 0, held = 0;
        for (int k = 1; k < power.length; k++) total += power[k];
        for (int i = 0; i < n; i++) {
            keys[i] = order[i];
            held += power[order[i]];
        }
        return new Spectrum(power, keys, total > 0 ? held / total : 0);
    }

    /** Runs all p² prompts and analyses the answers and the last MLP layer's neurons at '='. */
    public static Grid grid(Engine engine, int p, Progress progress) {
        GptConfig c = engine.config();
        if (c.attnOnly()) throw new IllegalArgumentException("the model has no MLP neurons");
        int last = c.nLayers() - 1, dMlp = c.dMlp(), v = c.dVocab();
        String hook = "blocks." + last + ".mlp.hook_post";
        float[][] prob = new float[p][p];
        boolean[][] correct = new boolean[p][p];
        float[][][] act = new float[p][p][];
        int total = p * p;
        for (int start = 0; start < total; start += CHUNK) {
            progress.checkCancelled();
            int end = Math.min(total, start + CHUNK);
            List<int[]> prompts = new ArrayList<>(end - start);
            for (int i = start; i < end; i++) prompts.add(new int[]{i / p, i % p, p});
            try (RunResult r = engine.run(RunRequest.of(prompts).cache(hook::equals))) {
                float[] logits = r.logits().data(), post = r.get(hook).data();
                for (int i = start; i < end; i++) {
                    int row = i - start, a = i / p, b = i % p, ans = (a + b) % p;
                    int off = (row * 3 + 2) * v;
                    double max = Double.NEGATIVE_INFINITY;
                    int best = 0;
                    for (int t = 0; t < v; t++) max = Math.max(max, logits[off + t]);
                    double z = 0;
                    for (int t = 0; t < v; t++) z += Math.exp(logits[off + t] - max);
                    for (int t = 1; t < p; t++) if (logits[off + t] > logits[off + best]) best = t;
                    prob[a][b] = (float) (Math.exp(logits[off + ans] - max) / z);
                    correct[a][b] = best == ans;
                    act[a][b] = Arrays.copyOfRange(post, (row * 3 + 2) * dMlp, (row * 3 + 3) * dMlp);
                }
            }
            progress.report(0.5 * end / total, "ran " + end + " of " + total + " pairs");
        }
        int[] freq = new int[dMlp];
        double[] frac = new double[dMlp];
        double[][] power = new double[dMlp][];
        double[][] cos = table(p, true), sin = table(p, false);
        float[][] g = new float[p][p];
        for (int n = 0; n < dMlp; n++) {
            if (n % 16 == 0) {
                progress.checkCancelled();
                progress.report(0.5 + 0.5 * n / dMlp, "Fourier transform of neuron " + n);
            }
            for (int a = 0; a < p; a++) for (int b = 0; b < p; b++) g[a][b] = act[a][b][n];
            power[n] = frequencyShares(fourier2d(g, cos, sin));
            for (int k = 1; k < power[n].length; k++) if (power[n][k] > power[n][freq[n]] || freq[n] == 0) freq[n] = k;
            frac[n] = power[n][freq[n]];
        }
        return new Grid(p, prob, correct, freq, frac, power, act);
    }

    /** |F[ka][kb]|² of the 2-D DFT of g [p][p]. */
    static double[][] fourier2d(float[][] g, double[][] cos, double[][] sin) {
        int p = g.length;
        double[][] re = new double[p][p], im = new double[p][p];   // transform over a: [ka][b]
        for (int ka = 0; ka < p; ka++)
            for (int a = 0; a < p; a++) {
                double cs = cos[ka][a], sn = sin[ka][a];
                float[] row = g[a];
                double[] r = re[ka], i = im[ka];
                for (int b = 0; b < p; b++) {
                    r[b] += row[b] * cs;
                    i[b] -= row[b] * sn;
                }
            }
        double[][] pw = new double[p][p];
        for (int ka = 0; ka < p; ka++)
            for (int kb = 0; kb < p; kb++) {
                double sr = 0, si = 0;
                double[] r = re[ka], i = im[ka], cs = cos[kb], sn = sin[kb];
                for (int b = 0; b < p; b++) {   // (r + i·j)(cos − j·sin)
                    sr += r[b] * cs[b] + i[b] * sn[b];
                    si += i[b] * cs[b] - r[b] * sn[b];
                }
                pw[ka][kb] = sr * sr + si * si;
            }
        return pw;
    }

    /** share[k] (k = 1 … p/2) of the non-constant power in the terms whose a- and b-frequencies are each 0 or ±k. */
    static double[] frequencyShares(double[][] pw) {
        int p = pw.length;
        double total = -pw[0][0];
        for (double[] r : pw) for (double x : r) total += x;
        double[] share = new double[p / 2 + 1];
        for (int ka = 0; ka < p; ka++)
            for (int kb = 0; kb < p; kb++) {
                if (ka == 0 && kb == 0) continue;
                int fa = Math.min(ka, p - ka), fb = Math.min(kb, p - kb);
                if (fa != 0 && fb != 0 && fa != fb) continue;   // mixes two frequencies: no single k
                share[Math.max(fa, fb)] += total > 0 ? pw[ka][kb] / total : 0;
            }
        return share;
    }

    private static double[][] table(int p, boolean cos) {
        double[][] t = new double[p][p];
        for (int k = 0; k < p; k++)
            for (int x = 0; x < p; x++) {
                double ang = 2 * Math.PI * ((long) k * x % p) / p;
                t[k][x] = cos ? Math.cos(ang) : Math.sin(ang);
            }
        return t;
    }
}
