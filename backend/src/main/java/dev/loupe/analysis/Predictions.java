package dev.loupe.analysis;

import dev.loupe.model.Tensor;
import dev.loupe.runtime.Engine;

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
        Tensor resid;
        try (var run = s.engine().run(dev.loupe.runtime.RunRequest.of(ids).stopAfter(s.config().nLayers() - 1))) {
            resid = run.residual();
        }
        // row p's target is the next token (its loss); reduced inside ONNX Runtime, so no [pos, vocab] copy
        int[] next = new int[ids.length];
        System.arraycopy(ids, 1, next, 0, ids.length - 1);
        Engine.TopLogits top = s.engine().topLogits(resid, k, next);
        Position[] out = new Position[ids.length];
        for (int p = 0; p < ids.length; p++) {
            Double loss = null, prob = null;
            Integer rank = null;
            if (p > 0) {
                double lp = top.targetLogit()[p - 1] - top.logSumExp(p - 1);
                loss = -lp;
                prob = Math.exp(lp);
                rank = top.above()[p - 1] + 1;
            }
            out[p] = new Position(p, s.token(ids[p]), loss, prob, rank, Ops.candidates(s, top, p, top.logSumExp(p)));
        }
        double lossSum = 0;
        for (Position p : out) if (p.loss() != null) lossSum += p.loss();
        return new Result(List.of(out), ids.length > 1 ? (Double) (lossSum / (ids.length - 1)) : null);
    }
}
