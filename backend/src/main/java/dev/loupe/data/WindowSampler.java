package dev.loupe.data;

import java.util.List;
import java.util.Random;

/**
 * Training windows drawn uniformly at random from a token stream ({@code EOT d1 EOT d2 …}): a window may cross a
 * document boundary, as in GPT-2's own training, and the separator is then an ordinary token to predict. With
 * several streams (a small corpus mixed with extra text at a chosen rate rather than at the ratio of their sizes),
 * each row first picks a stream with probability proportional to its weight. The sequence of batches depends only
 * on the streams, weights, window length and seed ({@link Random} is specified to be the same on every JVM); with
 * one stream no choice is drawn, so a single-stream sampler gives the batches it always gave.
 */
public final class WindowSampler {
    private final List<int[]> streams;
    private final double[] cumulative;
    private final int length;
    private final Random random;

    public WindowSampler(int[] stream, int length, long seed) {
        this(List.of(stream), new double[]{1}, length, seed);
    }

    public WindowSampler(List<int[]> streams, double[] weights, int length, long seed) {
        if (streams.isEmpty() || streams.size() != weights.length)
            throw new IllegalArgumentException("need one weight per stream");
        if (length < 1) throw new IllegalArgumentException("window length must be positive");
        this.cumulative = new double[weights.length];
        double total = 0;
        for (int i = 0; i < weights.length; i++) {
            if (!(weights[i] > 0)) throw new IllegalArgumentException("stream weights must be positive, got " + weights[i]);
            if (streams.get(i).length < length + 1)
                throw new IllegalArgumentException("stream of " + streams.get(i).length + " tokens is too short for windows of " + length);
            total += weights[i];
            cumulative[i] = total;
        }
        for (int i = 0; i < cumulative.length; i++) cumulative[i] /= total;
        this.streams = List.copyOf(streams);
        this.length = length;
        this.random = new Random(seed);
    }

    /** {@code rows} windows of {@code length} inputs, each target the next token of its stream. */
    public Batch next(int rows) {
        int[] inputs = new int[rows * length];
        int[] targets = new int[rows * length];
        for (int r = 0; r < rows; r++) {
            int[] stream = streams.get(pickStream());
            int start = random.nextInt(stream.length - length); // start + length is still a valid target index
            System.arraycopy(stream, start, inputs, r * length, length);
            System.arraycopy(stream, start + 1, targets, r * length, length);
        }
        return new Batch(rows, length, inputs, targets);
    }

    private int pickStream() {
        if (cumulative.length == 1) return 0;
        double u = random.nextDouble();
        int s = 0;
        while (s < cumulative.length - 1 && u >= cumulative[s]) s++;
        return s;
    }

    public int length() {
        return length;
    }
}
