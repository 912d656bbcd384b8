package dev.loupe.train;

import dev.loupe.grad.Backprop;
import dev.loupe.grad.GradGraph;
import dev.loupe.grad.Metric;
import dev.loupe.hooks.HookPoints;
import dev.loupe.model.GptConfig;
import dev.loupe.model.Tensor;

import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Random;
import java.util.Set;

/**
 * Sequences {@code <bos>} + s + s (each segment s repeated once, all segments of one length): the loss on each copy
 * and, per head, the induction score (the mean attention from each token of the second copy to the token after its
 * first occurrence: query q, key q − len + 1) and the previous-token score (mean attention to the position before).
 * On uniform random segments only copying lowers the second copy's loss, so this is the standard induction test.
 */
final class InductionProbe {
    private final GptConfig config;
    private final int rows, segment, len;
    private final int[] tokens;

    /** Per-head scores: [layer][head]. */
    record HeadScores(double[][] induction, double[][] previous) {
        double maxInduction() { return Arrays.stream(induction).flatMapToDouble(Arrays::stream).max().orElse(0); }
    }

    record CopyLosses(double first, double second) {}

    InductionProbe(GptConfig config, int bos, int[][] segments) {
        if (segments.length == 0) throw new IllegalArgumentException("no segments");
        this.config = config;
        this.rows = segments.length;
        this.segment = segments[0].length;
        this.len = 2 * segment + 1;
        if (len > config.nCtx()) throw new IllegalArgumentException("segments of " + segment + " tokens repeated do not fit the context " + config.nCtx());
        this.tokens = new int[rows * len];
        for (int r = 0; r < rows; r++) {
            if (segments[r].length != segment) throw new IllegalArgumentException("segments differ in length");
            tokens[r * len] = bos;
            System.arraycopy(segments[r], 0, tokens, r * len + 1, segment);
            System.arraycopy(segments[r], 0, tokens, r * len + 1 + segment, segment);
        }
    }

    /** {@code rows} segments of {@code segment} tokens drawn uniformly from [from, to) with a fixed seed. */
    static InductionProbe random(GptConfig config, int bos, int from, int to, int segment, int rows) {
        return random(config, bos, java.util.stream.IntStream.range(from, to).toArray(), segment, rows);
    }

    /** {@code rows} segments of {@code segment} tokens drawn uniformly from {@code pool} with a fixed seed. */
    static InductionProbe random(GptConfig config, int bos, int[] pool, int segment, int rows) {
        Random rnd = new Random(12345);
        int[][] s = new int[rows][segment];
        for (int[] row : s) for (int i = 0; i < segment; i++) row[i] = pool[rnd.nextInt(pool.length)];
        return new InductionProbe(config, bos, s);
    }

    int rows() { return rows; }
    int segment() { return segment; }

    CopyLosses copyLosses(Task.Evaluator ev) {
        int[] first = new int[tokens.length], second = new int[tokens.length];
        Arrays.fill(first, -1);
        Arrays.fill(second, -1);
        for (int r = 0; r < rows; r++)
            for (int t = 0; t + 1 < len; t++) (t + 1 <= segment ? first : second)[r * len + t] = tokens[r * len + t + 1];
        return new CopyLosses(
                ev.run(GradGraph.Spec.forwardOnly(), tokens, Metric.crossEntropy(first, rows, len, false)).metric(),
                ev.run(GradGraph.Spec.forwardOnly(), tokens, Metric.crossEntropy(second, rows, len, false)).metric());
    }

    HeadScores headScores(Task.Evaluator ev) {
        Set<String> patterns = new LinkedHashSet<>();
        for (int l = 0; l < config.nLayers(); l++) patterns.add(HookPoints.name(l, "attn.hook_pattern"));
        Backprop.Result r = ev.run(new GradGraph.Spec(patterns, Set.of(), false), tokens, Metric.Ports.zeros(rows, len, 1));
        double[][] ind = new double[config.nLayers()][config.nHeads()], prev = new double[config.nLayers()][config.nHeads()];
        for (int l = 0; l < config.nLayers(); l++) {
            Tensor pat = r.get(GradGraph.hookValue(HookPoints.name(l, "attn.hook_pattern"))); // [b, h, q, k]
            float[] d = pat.data();
            for (int h = 0; h < config.nHeads(); h++) {
                double si = 0, sp = 0;
                for (int b = 0; b < rows; b++) {
                    int base = (b * config.nHeads() + h) * len * len;
                    for (int q = segment + 1; q < len; q++) si += d[base + q * len + (q - segment + 1)];
                    for (int q = 1; q < len; q++) sp += d[base + q * len + q - 1];
                }
                ind[l][h] = si / ((double) rows * segment);
                prev[l][h] = sp / ((double) rows * (len - 1));
            }
        }
        return new HeadScores(ind, prev);
    }

    /** The card's table of every head's two scores, with how they were measured. */
    String table(Task.Evaluator ev, String segments) {
        HeadScores s = headScores(ev);
        StringBuilder b = new StringBuilder();
        b.append("Induction score: on ").append(rows).append(" sequences `<bos>` + r + r, r of ").append(segment).append(' ').append(segments)
                .append(", the mean attention from each token of the second copy to the token after its first ")
                .append("occurrence (query q, key q − ").append(segment - 1).append("). Previous-token score: mean attention to the previous position.\n\n");
        b.append("| head | induction score | previous-token score |\n| --- | ---: | ---: |\n");
        for (int l = 0; l < config.nLayers(); l++)
            for (int h = 0; h < config.nHeads(); h++)
                b.append(String.format(java.util.Locale.ROOT, "| %d.%d | %.3f | %.3f |%n", l, h, s.induction()[l][h], s.previous()[l][h]));
        return b.toString();
    }
}
