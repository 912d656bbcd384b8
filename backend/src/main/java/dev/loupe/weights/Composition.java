package dev.loupe.weights;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Composition scores between heads of different layers (Elhage et al. 2021), as TransformerLens's
 * {@code all_composition_scores} computes them: for a sender head A of an earlier layer and a receiver head B,
 * ‖W_A·W_B‖_F / (‖W_A‖_F‖W_B‖_F) with W_A = W_OV of A (= W_V·W_O, row vectors: x·W_OV) and W_B = W_QK of B
 * (Q-composition: W_Q·W_Kᵀ, the sender writes where B's queries read), its transpose (K-composition: W_K·W_Qᵀ, where
 * B's keys read) or W_OV of B (V-composition). All are d_model × d_model of rank d_head and are kept as their factors:
 * ‖L₁R₁ᵀ·L₂R₂ᵀ‖² = tr(Mᵀ(L₁ᵀL₁)M(R₂ᵀR₂)) with M = R₁ᵀL₂, so nothing larger than d_head × d_head is formed
 * beyond the Gram matrices.
 */
public final class Composition {
    /** Monte-Carlo samples of the random baseline. */
    public static final int BASELINE_SAMPLES = 200;
    public static final long BASELINE_SEED = 0;

    private Composition() {}

    /**
     * The baseline: the same score for random matrices of the same shapes (each factor d_model × d_head with
     * independent N(0, 1) entries; the score does not depend on their scale). For rotation-invariant random
     * matrices E[score²] = 1/d_model exactly, so the mean is a little below 1/√d_model.
     */
    public record Baseline(int samples, long seed, double mean, double std, double p95, double rootMeanSquare) {}

    /**
     * @param receivers heads "l.h" of layers 1 … L−1 (rows), @param senders heads of layers 0 … L−2 (columns)
     * @param q         Q-composition [receiver][sender]; null where the sender is not in an earlier layer
     */
    public record Result(List<String> receivers, List<String> senders, Double[][] q, Double[][] k, Double[][] v,
                         Baseline baseline, String convention) {}

    public static final String CONVENTION = "TransformerLens processed weights (fold_ln, center_writing_weights, center_unembed); "
            + "score = ‖W_OV(sender)·W(receiver)‖_F / (‖W_OV(sender)‖_F ‖W(receiver)‖_F) with W = W_Q·W_Kᵀ (Q), W_K·W_Qᵀ (K), W_V·W_O (V)";

    /** A d_model × d_model matrix of rank d_head as L·Rᵀ, with the Gram matrices of its factors. */
    record Factors(double[][] l, double[][] r, double[][] gl, double[][] gr, double norm) {
        static Factors of(double[][] l, double[][] r) {
            double[][] gl = Linalg.gram(l), gr = Linalg.gram(r);
            return new Factors(l, r, gl, gr, Math.sqrt(Math.max(0, Linalg.traceProduct(gl, gr))));
        }
    }

    static Factors ov(FoldedWeights w, int l, int h) { return Factors.of(w.wV(l, h), Linalg.transpose(w.wO(l, h))); }
    static Factors qk(FoldedWeights w, int l, int h) { return Factors.of(w.wQ(l, h), w.wK(l, h)); }
    static Factors kq(FoldedWeights w, int l, int h) { return Factors.of(w.wK(l, h), w.wQ(l, h)); }

    /** ‖A·B‖_F / (‖A‖_F ‖B‖_F). */
    static double score(Factors a, Factors b) {
        double[][] m = Linalg.crossT(a.r(), b.l());
        double sq = Linalg.traceProduct(Linalg.mul(Linalg.transpose(m), Linalg.mul(a.gl(), m)), b.gr());
        double den = a.norm() * b.norm();
        return den == 0 ? 0 : Math.sqrt(Math.max(0, sq)) / den;
    }

    public static Result compute(FoldedWeights w) {
        var c = w.config();
        int nl = c.nLayers(), nh = c.nHeads();
        Factors[][] ov = new Factors[nl][nh], qk = new Factors[nl][nh], kq = new Factors[nl][nh];
        for (int l = 0; l < nl; l++)
            for (int h = 0; h < nh; h++) {
                ov[l][h] = ov(w, l, h);
                qk[l][h] = qk(w, l, h);
                kq[l][h] = kq(w, l, h);
            }
        List<String> receivers = new ArrayList<>(), senders = new ArrayList<>();
        for (int l = 1; l < nl; l++) for (int h = 0; h < nh; h++) receivers.add(l + "." + h);
        for (int l = 0; l < nl - 1; l++) for (int h = 0; h < nh; h++) senders.add(l + "." + h);
        int nr = receivers.size(), ns = senders.size();
        Double[][] q = new Double[nr][ns], k = new Double[nr][ns], v = new Double[nr][ns];
        for (int rl = 1; rl < nl; rl++)
            for (int rh = 0; rh < nh; rh++)
                for (int sl = 0; sl < rl; sl++)
                    for (int sh = 0; sh < nh; sh++) {
                        int ri = (rl - 1) * nh + rh, si = sl * nh + sh;
                        q[ri][si] = score(ov[sl][sh], qk[rl][rh]);
                        k[ri][si] = score(ov[sl][sh], kq[rl][rh]);
                        v[ri][si] = score(ov[sl][sh], ov[rl][rh]);
                    }
        return new Result(receivers, senders, q, k, v, baseline(c.dModel(), c.dHead(), BASELINE_SAMPLES, BASELINE_SEED), CONVENTION);
    }

    /** The score of random factor matrices [dModel][dHead], {@code samples} times. */
    public static Baseline baseline(int dModel, int dHead, int samples, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        double[] s = new double[samples];
        double sum = 0, sq = 0;
        for (int i = 0; i < samples; i++) {
            Factors a = Factors.of(gaussian(rnd, dModel, dHead), gaussian(rnd, dModel, dHead));
            Factors b = Factors.of(gaussian(rnd, dModel, dHead), gaussian(rnd, dModel, dHead));
            s[i] = score(a, b);
            sum += s[i];
            sq += s[i] * s[i];
        }
        double mean = sum / samples;
        double std = Math.sqrt(Math.max(0, sq / samples - mean * mean));
        java.util.Arrays.sort(s);
        double p95 = s[Math.min(samples - 1, (int) Math.ceil(0.95 * samples) - 1)];
        return new Baseline(samples, seed, mean, std, p95, Math.sqrt(sq / samples));
    }

    private static double[][] gaussian(SplittableRandom rnd, int rows, int cols) {
        double[][] m = new double[rows][cols];
        for (double[] r : m) for (int j = 0; j < cols; j++) r[j] = rnd.nextGaussian();
        return m;
    }
}
