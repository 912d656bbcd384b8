package dev.loupe.analysis;

import dev.loupe.model.Tensor;

import java.util.ArrayList;
import java.util.List;

/** Small numeric helpers on rows of logits and residual vectors. */
public final class Ops {
    private Ops() {}

    /** log Σ exp(row[off .. off+n)), computed stably in double. */
    public static double logSumExp(float[] row, int off, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, row[off + i]);
        double s = 0;
        for (int i = 0; i < n; i++) s += Math.exp(row[off + i] - max);
        return max + Math.log(s);
    }

    /** Number of entries of row[off .. off+n) greater than row[off + id], plus one. */
    public static int rank(float[] row, int off, int n, int id) {
        float v = row[off + id];
        int r = 1;
        for (int i = 0; i < n; i++) if (row[off + i] > v) r++;
        return r;
    }

    /** Indices of the k largest values of row[off .. off+n), largest first (ties: lower index first). */
    public static int[] topK(float[] row, int off, int n, int k) {
        k = Math.min(k, n);
        int[] idx = new int[k];
        float[] val = new float[k];
        int size = 0;
        for (int i = 0; i < n; i++) {
            float v = row[off + i];
            if (size == k && !(v > val[k - 1])) continue;
            int j = size < k ? size++ : k - 1;
            while (j > 0 && v > val[j - 1]) {
                val[j] = val[j - 1];
                idx[j] = idx[j - 1];
                j--;
            }
            val[j] = v;
            idx[j] = i;
        }
        return idx;
    }

    /** The top-k candidates of one row of logits, with softmax probabilities. */
    public static List<Candidate> candidates(Subject s, float[] logits, int off, int n, int k) {
        return candidates(s, logits, off, n, k, logSumExp(logits, off, n));
    }

    /** As above, with the row's log Σ exp already known. */
    public static List<Candidate> candidates(Subject s, float[] logits, int off, int n, int k, double lse) {
        List<Candidate> out = new ArrayList<>(k);
        for (int id : topK(logits, off, n, k)) {
            double logit = logits[off + id];
            out.add(new Candidate(id, s.tokenizer().display(id, true), Math.exp(logit - lse), logit));
        }
        return out;
    }

    /** The top-k candidates of row {@code r} of reduced logits, with softmax probabilities given the row's log Σ exp. */
    public static List<Candidate> candidates(Subject s, dev.loupe.runtime.Engine.TopLogits top, int r, double lse) {
        List<Candidate> out = new ArrayList<>(top.k());
        for (int j = r * top.k(); j < (r + 1) * top.k(); j++) {
            double logit = top.values()[j];
            out.add(new Candidate(top.ids()[j], s.tokenizer().display(top.ids()[j], true), Math.exp(logit - lse), logit));
        }
        return out;
    }

    /** Row {@code pos} of a [1, pos, d] tensor (or [pos, d]) as a double vector. */
    public static double[] row(Tensor t, int pos) {
        int d = t.dim(-1);
        double[] out = new double[d];
        float[] data = t.data();
        int off = pos * d;
        for (int i = 0; i < d; i++) out[i] = data[off + i];
        return out;
    }

    public static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    public static double mean(double[] a) {
        double s = 0;
        for (double x : a) s += x;
        return s / a.length;
    }
}
