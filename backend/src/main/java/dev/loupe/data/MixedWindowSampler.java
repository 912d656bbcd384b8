package dev.loupe.data;

import java.util.List;
import java.util.Random;

/**
 * Training windows from several token streams: each row first picks a stream with probability proportional to its
 * weight, then a window uniformly at random inside it (as {@link WindowSampler} does in one stream). Lets a small
 * corpus be mixed with extra text at a chosen rate rather than at the ratio of their sizes. Deterministic in the
 * seed.
 */
public final class MixedWindowSampler {
    private final List<int[]> streams;
    private final double[] cumulative;
    private final int length;
    private final Random random;

    public MixedWindowSampler(List<int[]> streams, double[] weights, int length, long seed) {
        if (streams.isEmpty() || streams.size() != weights.length)
            throw new IllegalArgumentException("need one weight per stream");
        if (length < 1) throw new IllegalArgumentException("window length must be positive");
        this.cumulative = new double[weights.length];
        double total = 0;
        for (int i = 0; i < weights.length; i++) {
            if (!(weights[i] > 0)) throw new IllegalArgumentException("stream weights must be positive, got " + weights[i]);
            if (streams.get(i).length < length + 1)
                throw new IllegalArgumentException("stream " + i + " of " + streams.get(i).length + " tokens is too short for windows of " + length);
            total += weights[i];
            cumulative[i] = total;
        }
        for (int i = 0; i < cumulative.length; i++) cumulative[i] /= total;
        this.streams = List.copyOf(streams);
        this.length = length;
        this.random = new Random(seed);
    }

    public Batch next(int rows) {
        int[] inputs = new int[rows * length];
        int[] targets = new int[rows * length];
        for (int r = 0; r < rows; r++) {
            double u = random.nextDouble();
            int s = 0;
            while (s < cumulative.length - 1 && u >= cumulative[s]) s++;
            int[] stream = streams.get(s);
            int start = random.nextInt(stream.length - length);
            System.arraycopy(stream, start, inputs, r * length, length);
            System.arraycopy(stream, start + 1, targets, r * length, length);
        }
        return new Batch(rows, length, inputs, targets);
    }
}
