package dev.loupe.generation;

import dev.loupe.analysis.Candidate;
import dev.loupe.analysis.Ops;
import dev.loupe.analysis.Subject;
import dev.loupe.analysis.TokenInfo;
import dev.loupe.jobs.Progress;
import dev.loupe.model.GptConfig;
import dev.loupe.model.Tensor;
import dev.loupe.runtime.RunRequest;
import dev.loupe.runtime.RunResult;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Continues a prompt one token at a time, greedily or by sampling. The sampling rule (the PyTorch reference
 * {@code tools/reference/generation_reference.py} follows it step for step):
 * <ol>
 *   <li>the logits of the last position, in double;</li>
 *   <li>temperature 0: the token with the largest logit (the lowest id among equals);</li>
 *   <li>otherwise the candidates are the top-k tokens by logit (k = 0: every token), largest first, the lower id
 *       first among equals; their probabilities are softmax(logit / temperature) over the candidates;</li>
 *   <li>one uniform u in [0, 1) per step from SplitMix64 seeded with the seed ({@code (next() >>> 11) · 2^-53}); the
 *       token is the first candidate whose cumulative probability exceeds u.</li>
 * </ol>
 * Generation stops after {@code maxNew} tokens, at the end of the context, or (when asked) when the model writes its
 * end-of-text token, which is not added.
 */
public final class Generation {
    private Generation() {}

    /** Candidates shown per step. */
    public static final int TOP = 5;

    public record Options(int maxNew, double temperature, int topK, long seed, boolean stopAtEos) {
        public boolean greedy() { return temperature == 0; }
    }

    /**
     * @param prob       the token's probability under the model (softmax at temperature 1)
     * @param sampleProb the probability it was drawn with (1 when greedy)
     * @param top        the model's top tokens at that step
     */
    public record Step(int position, TokenInfo token, double prob, double sampleProb, double logit, List<Candidate> top) {}

    /**
     * @param prompt      the prompt's tokens (BOS included)
     * @param text        the prompt's text with the continuation, as the model's tokenizer writes it (without BOS)
     * @param continuation the generated text alone
     * @param ids         every id: the prompt's and the generated ones
     * @param retokenizes whether {@code text} tokenizes back to exactly {@code ids} (a link's views then see the same tokens)
     * @param stopped     {@code length} (max new tokens), {@code context} (the model's context is full) or {@code eos}
     */
    public record Result(List<TokenInfo> prompt, List<Step> steps, String text, String continuation, List<Integer> ids,
                         boolean retokenizes, String stopped, Options options) {}

    public static Result generate(Subject s, int[] prompt, Options o, Progress progress) {
        GptConfig c = s.config();
        int n = c.nLayers(), vocab = c.dVocab(), d = c.dModel();
        int eos = s.tokenizer().bosId();
        int[] ids = Arrays.copyOf(prompt, Math.min(c.nCtx(), prompt.length + o.maxNew()));
        int len = prompt.length;
        SplitMix64 rng = new SplitMix64(o.seed());
        List<Step> steps = new ArrayList<>();
        String stopped = "length";
        for (int step = 0; step < o.maxNew(); step++) {
            if (len >= c.nCtx()) {
                stopped = "context";
                break;
            }
            progress.checkCancelled();
            float[] logits = lastLogits(s, Arrays.copyOf(ids, len), n, d);
            double lse = Ops.logSumExp(logits, 0, vocab);
            int[] order = o.greedy() ? Ops.topK(logits, 0, vocab, 1) : candidates(logits, vocab, o.topK());
            int next;
            double sampleProb;
            if (o.greedy()) {
                next = order[0];
                sampleProb = 1;
            } else {
                double[] p = new double[order.length];
                double max = logits[order[0]], z = 0;
                for (int i = 0; i < order.length; i++) z += p[i] = Math.exp((logits[order[i]] - max) / o.temperature());
                double u = rng.nextDouble(), cum = 0;
                int pick = order.length - 1; // rounding may leave the cumulative sum just under 1
                for (int i = 0; i < order.length; i++) {
                    cum += p[i] / z;
                    if (cum > u) {
                        pick = i;
                        break;
                    }
                }
                next = order[pick];
                sampleProb = p[pick] / z;
            }
            if (o.stopAtEos() && eos >= 0 && next == eos) {
                stopped = "eos";
                break;
            }
            steps.add(new Step(len, s.token(next), Math.exp(logits[next] - lse), sampleProb, logits[next],
                    Ops.candidates(s, logits, 0, vocab, TOP, lse)));
            ids[len++] = next;
            progress.report((step + 1.0) / o.maxNew(), (step + 1) + " of " + o.maxNew() + " tokens");
        }
        int[] all = Arrays.copyOf(ids, len);
        int lead = eos >= 0 && prompt.length > 0 && prompt[0] == eos ? 1 : 0;
        String text = s.tokenizer().decode(Arrays.copyOfRange(all, lead, len));
        String continuation = s.tokenizer().decode(Arrays.copyOfRange(all, prompt.length, len));
        boolean same;
        try {
            same = Arrays.equals(s.tokenizer().encode(text, lead == 1), all);
        } catch (IllegalArgumentException e) {
            same = false;
        }
        return new Result(s.tokens(prompt), steps, text, continuation, Arrays.stream(all).boxed().toList(), same, stopped, o);
    }

    /** The next-token logits after {@code ids}: the blocks, then the final LayerNorm and unembedding of the last position only. */
    private static float[] lastLogits(Subject s, int[] ids, int n, int d) {
        Tensor last = Tensor.zeros(1, 1, d);
        try (RunResult run = s.engine().run(RunRequest.of(ids).stopAfter(n - 1))) {
            System.arraycopy(run.residual().data(), (ids.length - 1) * d, last.data(), 0, d);
        }
        try (RunResult out = s.engine().run(RunRequest.fromResidual(n, last))) {
            return out.logits().data();
        }
    }

    /** The top-k ids by logit (k = 0 or k ≥ vocab: all), largest first, lower id first among equals. */
    static int[] candidates(float[] logits, int vocab, int k) {
        if (k > 0 && k <= 1024) return Ops.topK(logits, 0, vocab, k);
        Integer[] idx = new Integer[vocab];
        for (int i = 0; i < vocab; i++) idx[i] = i;
        Arrays.sort(idx, (a, b) -> logits[a] != logits[b] ? Float.compare(logits[b], logits[a]) : Integer.compare(a, b));
        int keep = k > 0 ? Math.min(k, vocab) : vocab;
        int[] out = new int[keep];
        for (int i = 0; i < keep; i++) out[i] = idx[i];
        return out;
    }

    /** SplitMix64 (Steele, Lea, Flood 2014): one uniform double per step, easy to reproduce in any language. */
    static final class SplitMix64 {
        private long state;

        SplitMix64(long seed) { state = seed; }

        long next() {
            long z = (state += 0x9E3779B97F4A7C15L);
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            return z ^ (z >>> 31);
        }

        double nextDouble() { return (next() >>> 11) * 0x1.0p-53; }
    }
}
