package dev.loupe.analysis;

import dev.loupe.model.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * What the model predicts along a prompt: for every position the top-k next tokens, and for every token its loss
 * (−log p of that token given the tokens before it; the first token has none).
 */
public final class Predictions {
    private Predictions() {}

    /**
     * @param loss      −log p(token | previous tokens), null at position 0
     * @param prob      p(token | previous tokens), null at position 0
     * @param next      the top-k predictions for the token after this one
     */
    public record Position(int position, TokenInfo token, Double loss, Double prob, Integer rank, List<Candidate> next) {}

    /** @param meanLoss mean loss over positions 1..T-1 (null for a single token) */
    public record Result(List<Position> positions, Double meanLoss) {}

    public static Result compute(Subject s, int[] ids, int k) {
        Tensor logits = s.engine().logits(ids);
        int vocab = logits.dim(-1);
        float[] data = logits.data();
        List<Position> out = new ArrayList<>(ids.length);
        double lossSum = 0;
        for (int p = 0; p < ids.length; p++) {
            Double loss = null, prob = null;
            Integer rank = null;
            if (p > 0) {
                int off = (p - 1) * vocab;
                double lp = data[off + ids[p]] - Ops.logSumExp(data, off, vocab);
                loss = -lp;
                prob = Math.exp(lp);
                lossSum += loss;
                int r = 1;
                float mine = data[off + ids[p]];
                for (int v = 0; v < vocab; v++) if (data[off + v] > mine) r++;
                rank = r;
            }
            out.add(new Position(p, s.token(ids[p]), loss, prob, rank, Ops.candidates(s, data, p * vocab, vocab, k)));
        }
        return new Result(out, ids.length > 1 ? (Double) (lossSum / (ids.length - 1)) : null);
    }
}
