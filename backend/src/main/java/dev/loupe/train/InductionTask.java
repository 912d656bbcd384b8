package dev.loupe.train;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.grad.Backprop;
import dev.loupe.grad.GradGraph;
import dev.loupe.grad.Metric;
import dev.loupe.hooks.HookPoints;
import dev.loupe.model.GptConfig;
import dev.loupe.model.Tensor;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Random;
import java.util.Set;
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

    private int[] evalTokens() {
        Random rnd = new Random(12345);
        int len = 2 * evalLen + 1;
        int[] tokens = new int[evalRows * len];
        for (int r = 0; r < evalRows; r++) {
            for (int i = 0; i < evalLen; i++) {
                int t = 1 + rnd.nextInt(vocab - 1);
                tokens[r * len + 1 + i] = t;
                tokens[r * len + 1 + evalLen + i] = t;
            }
        }
        return tokens;
    }

    /** [layer][head] induction scores and previous-token scores. */
    double[][][] headScores(Evaluator ev) {
        GptConfig c = recipe.config();
        Set<String> patterns = new LinkedHashSet<>();
        for (int l = 0; l < c.nLayers(); l++) patterns.add(HookPoints.name(l, "attn.hook_pattern"));
        int len = 2 * evalLen + 1;
        int[] tokens = evalTokens();
        Backprop.Result r = ev.run(new GradGraph.Spec(patterns, Set.of(), false), tokens, Metric.Ports.zeros(evalRows, len, 1));
        double[][] ind = new double[c.nLayers()][c.nHeads()], prev = new double[c.nLayers()][c.nHeads()];
        for (int l = 0; l < c.nLayers(); l++) {
            Tensor pat = r.get(GradGraph.hookValue(HookPoints.name(l, "attn.hook_pattern"))); // [b, h, q, k]
            float[] d = pat.data();
            for (int h = 0; h < c.nHeads(); h++) {
                double si = 0, sp = 0;
                for (int b = 0; b < evalRows; b++) {
                    int base = (b * c.nHeads() + h) * len * len;
                    for (int q = evalLen + 1; q < len; q++) si += d[base + q * len + (q - evalLen + 1)];
                    for (int q = 1; q < len; q++) sp += d[base + q * len + q - 1];
                }
                ind[l][h] = si / (evalRows * evalLen);
                prev[l][h] = sp / (evalRows * (len - 1));
            }
        }
        return new double[][][]{ind, prev};
    }

    @Override public Map<String, Double> evaluate(Evaluator ev) {
        int len = 2 * evalLen + 1;
        int[] tokens = evalTokens();
        int[] first = new int[tokens.length], second = new int[tokens.length];
        Arrays.fill(first, -1);
        Arrays.fill(second, -1);
        for (int r = 0; r < evalRows; r++)
            for (int t = 0; t + 1 < len; t++) (t + 1 <= evalLen ? first : second)[r * len + t] = tokens[r * len + t + 1];
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("loss_first_copy", (double) ev.run(GradGraph.Spec.forwardOnly(), tokens, Metric.crossEntropy(first, evalRows, len, false)).metric());
        m.put("loss_second_copy", (double) ev.run(GradGraph.Spec.forwardOnly(), tokens, Metric.crossEntropy(second, evalRows, len, false)).metric());
        double[][][] s = headScores(ev);
        double best = 0;
        for (double[] row : s[0]) for (double v : row) best = Math.max(best, v);
        m.put("max_induction_score", best);
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
        double[][][] s = headScores(ev);
        GptConfig c = recipe.config();
        StringBuilder b = new StringBuilder();
        b.append("Induction score: on ").append(evalRows).append(" sequences `<bos>` + r + r, r of ").append(evalLen)
                .append(" uniform random tokens, the mean attention from each token of the second copy to the token after its first ")
                .append("occurrence (query q, key q − ").append(evalLen - 1).append("). Previous-token score: mean attention to the previous position.\n\n");
        b.append("| head | induction score | previous-token score |\n| --- | ---: | ---: |\n");
        for (int l = 0; l < c.nLayers(); l++)
            for (int h = 0; h < c.nHeads(); h++) b.append(String.format("| %d.%d | %.3f | %.3f |%n", l, h, s[0][l][h], s[1][l][h]));
        return b.toString();
    }
}
