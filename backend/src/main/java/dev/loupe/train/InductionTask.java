package dev.loupe.train;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.grad.Metric;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * Synthetic text in which the only thing to learn beyond chance is copying: {@code <bos>} followed by a random
 * segment of uniform random tokens, repeated until the window is full (segment length drawn per row from
 * [min_len, max_len], so a fixed positional offset cannot solve it). Evaluation: the induction score of every head
 * on {@code <bos>} + r + r with r uniform random of length {@code eval_len} (the mean attention from each token of
 * the second copy to the token after its first occurrence), the previous-token score, and the loss on each copy.
 */
final class InductionTask implements Task {
    private final Recipe recipe;
    private final int vocab, minLen, maxLen, evalLen, evalRows;
    private final long seed;

    InductionTask(Recipe recipe) {
        this.recipe = recipe;
        this.vocab = recipe.config().dVocab();
        this.minLen = recipe.task().path("min_len").asInt(8);
        this.maxLen = recipe.task().path("max_len").asInt(recipe.seq() / 2);
        this.evalLen = recipe.task().path("eval_len").asInt(Math.min(25, (recipe.seq() - 1) / 2));
        this.evalRows = recipe.task().path("eval_rows").asInt(64);
        this.seed = recipe.seed();
    }

    @Override public StepBatch batch(long step) {
        Random rnd = new Random(seed * 1_000_003L + step);
        int rows = recipe.batch(), len = recipe.seq();
        int[] tokens = new int[rows * len], targets = new int[rows * len];
        for (int r = 0; r < rows; r++) {
            int seg = minLen + rnd.nextInt(maxLen - minLen + 1);
            int[] s = new int[seg];
            for (int i = 0; i < seg; i++) s[i] = 1 + rnd.nextInt(vocab - 1);
            int[] row = new int[len + 1];
            row[0] = 0;
            for (int i = 1; i <= len; i++) row[i] = s[(i - 1) % seg];
            System.arraycopy(row, 0, tokens, r * len, len);
            System.arraycopy(row, 1, targets, r * len, len);
        }
        return new StepBatch(rows, len, tokens, Metric.crossEntropy(targets, rows, len, false), (long) rows * len);
    }

    /** {@code <bos>} (token 0) + r + r with r uniform over the other tokens. */
    InductionProbe probe() {
        return InductionProbe.random(recipe.config(), 0, 1, vocab, evalLen, evalRows);
    }

    @Override public Map<String, Double> evaluate(Evaluator ev) {
        InductionProbe p = probe();
        InductionProbe.CopyLosses loss = p.copyLosses(ev);
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("loss_first_copy", loss.first());
        m.put("loss_second_copy", loss.second());
        m.put("max_induction_score", p.headScores(ev).maxInduction());
        return m;
    }

    @Override public String headline() { return "max_induction_score"; }

    @Override public ObjectNode tokenizer() {
        return Task.listTokenizer(IntStream.range(0, vocab).mapToObj(i -> i == 0 ? "<bos>" : "t" + i).toList());
    }

    @Override public String dataDescription() {
        return "Synthetic sequences over its own vocabulary of " + vocab + " tokens (`<bos>`, `t1` … `t" + (vocab - 1) + "`): `<bos>` then a segment of "
                + minLen + "–" + maxLen + " uniform random tokens, repeated to fill a window of " + recipe.seq()
                + " tokens; every position is scored. Beyond chance, the only way to lower the loss is to copy from the previous "
                + "occurrence of the current token, which is what induction heads do.";
    }

    @Override public String report(Evaluator ev, Map<String, Double> finalEval) {
        return probe().table(ev, "uniform random tokens");
    }
}
