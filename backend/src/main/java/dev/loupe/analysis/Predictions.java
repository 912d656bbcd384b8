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
        Tensor logits;
        try (var run = s.engine().run(dev.loupe.runtime.RunRequest.of(ids))) {
            logits = run.logits();
        }
        int vocab = logits.dim(-1);
        float[] data = logits.data();
        double[] lse = new double[ids.length];
        java.util.stream.IntStream.range(0, ids.length).parallel().forEach(p -> lse[p] = Ops.logSumExp(data, p * vocab, vocab));
        Position[] out = new Position[ids.length];
        java.util.stream.IntStream.range(0, ids.length).parallel().forEach(p -> {
            Double loss = null, prob = null;
            Integer rank = null;
            if (p > 0) {
                int off = (p - 1) * vocab;
                double lp = data[off + ids[p]] - lse[p - 1];
                loss = -lp;
                prob = Math.exp(lp);
                rank = Ops.rank(data, off, vocab, ids[p]);
            }
            out[p] = new Position(p, s.token(ids[p]), loss, prob, rank, Ops.candidates(s, data, p * vocab, vocab, k, lse[p]));
        });
        double lossSum = 0;
        for (Position p : out) if (p.loss() != null) lossSum += p.loss();
        return new Result(List.of(out), ids.length > 1 ? (Double) (lossSum / (ids.length - 1)) : null);
    }
}
