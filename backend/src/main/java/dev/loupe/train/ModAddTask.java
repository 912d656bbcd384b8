package dev.loupe.train;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.grad.Backprop;
import dev.loupe.grad.GradGraph;
import dev.loupe.grad.Metric;
import dev.loupe.model.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * Modular addition: the prompt {@code a b =} and the answer {@code (a + b) mod p} predicted at {@code =}. Tokens
 * {@code 0 … p-1} are the numbers, {@code p} is {@code =}. A seeded shuffle of all p² pairs puts
 * {@code train_fraction} of them in the training set (full batch every step); the rest are held out.
 */
final class ModAddTask implements Task {
    private final int p;
    private final double fraction;
    private final long splitSeed;
    private final int[][] train, test;
    private final int batch;

    ModAddTask(Recipe recipe) {
        this.p = recipe.task().path("p").asInt(113);
        this.fraction = recipe.task().path("train_fraction").asDouble(0.3);
        this.splitSeed = recipe.task().path("split_seed").asLong(0);
        if (recipe.config().dVocab() != p + 1) throw new IllegalArgumentException("modadd needs vocab_size p + 1 = " + (p + 1));
        if (recipe.seq() != 3) throw new IllegalArgumentException("modadd prompts are 3 tokens long (seq 3)");
        ModAddSplit split = ModAddSplit.of(p, fraction, splitSeed);
        this.train = split.train();
        this.test = split.test();
        this.batch = recipe.batch() <= 0 ? train.length : recipe.batch();
    }

    private record Encoded(int[] tokens, Metric.Ports ports) {}

    private Encoded encode(int[][] pairs) {
        int rows = pairs.length;
        int[] tokens = new int[rows * 3], targets = new int[rows * 3];
        java.util.Arrays.fill(targets, -1);
        for (int r = 0; r < rows; r++) {
            tokens[3 * r] = pairs[r][0];
            tokens[3 * r + 1] = pairs[r][1];
            tokens[3 * r + 2] = p;
            targets[3 * r + 2] = (pairs[r][0] + pairs[r][1]) % p;
        }
        return new Encoded(tokens, Metric.crossEntropy(targets, rows, 3, false));
    }

    @Override public StepBatch batch(long step) {
        int[][] rows = train;
        if (batch < train.length) {
            Random rnd = new Random(splitSeed * 1_000_003L + step);
            rows = new int[batch][];
            for (int i = 0; i < batch; i++) rows[i] = train[rnd.nextInt(train.length)];
        }
        Encoded e = encode(rows);
        return new StepBatch(rows.length, 3, e.tokens, e.ports, rows.length);
    }

    private double[] lossAndAccuracy(Evaluator ev, int[][] pairs) {
        Encoded e = encode(pairs);
        Backprop.Result r = ev.run(GradGraph.Spec.withLogits(), e.tokens, e.ports);
        Tensor logits = r.get(GradGraph.LOGITS);
        int v = p + 1, correct = 0;
        float[] d = logits.data();
        for (int row = 0; row < pairs.length; row++) {
            int off = (row * 3 + 2) * v, best = 0;
            for (int k = 1; k < p; k++) if (d[off + k] > d[off + best]) best = k;
            if (best == (pairs[row][0] + pairs[row][1]) % p) correct++;
        }
        return new double[]{r.metric(), (double) correct / pairs.length};
    }

    @Override public Map<String, Double> evaluate(Evaluator ev) {
        double[] tr = lossAndAccuracy(ev, train), te = lossAndAccuracy(ev, test);
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("train_loss_eval", tr[0]);
        m.put("train_accuracy", tr[1]);
        m.put("test_loss", te[0]);
        m.put("test_accuracy", te[1]);
        return m;
    }

    @Override public String headline() { return "test_accuracy"; }

    /** Only the answer after "a b =" is scored. */
    @Override public int scoredAfter() { return 2; }

    @Override public ObjectNode tokenizer() {
        return Task.listTokenizer(IntStream.rangeClosed(0, p).mapToObj(i -> i < p ? Integer.toString(i) : "=").toList());
    }

    @Override public String dataDescription() {
        return "All " + p * p + " pairs (a, b) with 0 ≤ a, b < " + p + ", written `a b =`; the target `(a + b) mod " + p
                + "` is predicted at `=` (the only scored position). A shuffle with seed " + splitSeed + " puts "
                + train.length + " pairs (" + Math.round(fraction * 100) + " %) in the training set, seen as one full batch per step; the other "
                + test.length + " pairs are held out and never trained on. Its own vocabulary: the numbers 0 … " + (p - 1) + " and `=`.";
    }
}
