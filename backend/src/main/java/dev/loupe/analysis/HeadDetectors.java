package dev.loupe.analysis;

import dev.loupe.hooks.HookPoints;
import dev.loupe.model.GptConfig;
import dev.loupe.model.Tensor;
import dev.loupe.runtime.RunRequest;
import dev.loupe.runtime.RunResult;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Scores every head as a previous-token, duplicate-token and induction head, on sequences of BOS followed by
 * random tokens repeated twice (seeded, so results are reproducible):
 * <ul>
 *   <li>previous-token: mean attention from position i to i−1 (i ≥ 1);</li>
 *   <li>duplicate-token: mean attention from a token to the earlier occurrences of the same token, over the
 *       tokens that have one;</li>
 *   <li>induction: mean attention from a token to the token after each of its earlier occurrences (in the
 *       second repeat that is offset seq_len − 1 back).</li>
 * </ul>
 * Every score lies in [0, 1]; scores are means over the batch. The chance level of each score is the same score of
 * uniform causal attention (each query spreads its attention evenly over itself and every earlier key) on the same
 * sequences: a head scoring near it does nothing specific, one well above it is a detector of that kind.
 */
public final class HeadDetectors {
    private HeadDetectors() {}

    /** @param sample the first sequence of the batch; @param chance the scores of uniform attention on the same sequences */
    public record Result(int seqLen, int batch, long seed, double[][] previousToken, double[][] duplicateToken,
                         double[][] induction, Chance chance, List<TokenInfo> sample) {}

    /** The chance level of each score: what uniform causal attention scores on the same sequences. */
    public record Chance(double previousToken, double duplicateToken, double induction) {}

    public static Result compute(Subject s, int seqLen, int batch, long seed) {
        GptConfig c = s.config();
        int[][] seqs = repeatedRandomTokens(c.dVocab(), s.tokenizer().bosId(), seqLen, batch, seed);
        if (seqs[0].length > c.nCtx())
            throw new IllegalArgumentException("sequences of 1 + 2·" + seqLen + " tokens do not fit the context of " + c.nCtx());
        // patterns only: stop after the last block, so the unembedding is never computed
        List<Tensor> patterns = new ArrayList<>();
        try (RunResult run = s.engine().run(RunRequest.of(seqs).cacheRegex("attn\\.hook_pattern$").stopAfter(c.nLayers() - 1))) {
            for (int l = 0; l < c.nLayers(); l++) patterns.add(run.get(HookPoints.name(l, "attn.hook_pattern")));
        }
        Scores sc = scores(seqs, patterns);
        return new Result(seqLen, batch, seed, sc.previous, sc.duplicate, sc.induction, chance(seqs), s.tokens(seqs[0]));
    }

    /** The scores of one head that attends uniformly to itself and every earlier position. */
    public static Chance chance(int[][] seqs) {
        int t = seqs[0].length;
        float[] uniform = new float[seqs.length * t * t];
        for (int b = 0; b < seqs.length; b++)
            for (int q = 0; q < t; q++)
                for (int k = 0; k <= q; k++) uniform[(b * t + q) * t + k] = 1f / (q + 1);
        Scores s = scores(seqs, List.of(new Tensor(uniform, seqs.length, 1, t, t)));
        return new Chance(s.previous[0][0], s.duplicate[0][0], s.induction[0][0]);
    }

    /** The three scores, [layer][head], from patterns [batch, head, query, key] per layer. */
    public record Scores(double[][] previous, double[][] duplicate, double[][] induction) {}

    public static Scores scores(int[][] seqs, List<Tensor> patterns) {
        int layers = patterns.size();
        int heads = patterns.get(0).dim(1);
        int t = seqs[0].length;
        double[][] prev = new double[layers][heads], dup = new double[layers][heads], ind = new double[layers][heads];
        for (int l = 0; l < layers; l++) {
            float[] p = patterns.get(l).data();
            for (int h = 0; h < heads; h++) {
                double sp = 0, sd = 0, si = 0;
                int np = 0, nd = 0, ni = 0;
                for (int b = 0; b < seqs.length; b++) {
                    int[] tok = seqs[b];
                    int base = (b * heads + h) * t * t;
                    for (int q = 1; q < t; q++) {
                        sp += p[base + q * t + q - 1];
                        np++;
                        double d = 0, in = 0;
                        boolean seen = false;
                        for (int k = 0; k < q; k++) {
                            if (tok[k] != tok[q]) continue;
                            seen = true;
                            d += p[base + q * t + k];
                            in += p[base + q * t + k + 1]; // k < q, so k + 1 <= q
                        }
                        if (seen) {
                            sd += d;
                            nd++;
                            si += in;
                            ni++;
                        }
                    }
                }
                prev[l][h] = np == 0 ? 0 : sp / np;
                dup[l][h] = nd == 0 ? 0 : sd / nd;
                ind[l][h] = ni == 0 ? 0 : si / ni;
            }
        }
        return new Scores(prev, dup, ind);
    }

    /**
     * {@code batch} sequences of BOS (when the vocabulary has one) and {@code seqLen} random tokens, repeated twice.
     * Tokens within one repeat are distinct when the vocabulary is large enough, so the only duplicates are the
     * repeats; BOS never appears among them.
     */
    public static int[][] repeatedRandomTokens(int vocab, int bos, int seqLen, int batch, long seed) {
        if (seqLen < 1) throw new IllegalArgumentException("sequence length must be at least 1, got " + seqLen);
        if (batch < 1) throw new IllegalArgumentException("batch must be at least 1, got " + batch);
        SplittableRandom rnd = new SplittableRandom(seed);
        int lead = bos >= 0 ? 1 : 0;
        int usable = vocab - lead;
        boolean distinct = seqLen <= usable;
        int[][] out = new int[batch][];
        for (int b = 0; b < batch; b++) {
            int[] seq = new int[lead + 2 * seqLen];
            if (lead == 1) seq[0] = bos;
            java.util.Set<Integer> used = new java.util.HashSet<>();
            for (int i = 0; i < seqLen; i++) {
                int id;
                do {
                    id = rnd.nextInt(usable);
                    if (bos >= 0 && id >= bos) id++; // skip BOS
                } while (distinct && !used.add(id));
                seq[lead + i] = id;
                seq[lead + seqLen + i] = id;
            }
            out[b] = seq;
        }
        return out;
    }
}
