package dev.loupe.data;

import java.util.Random;

/**
 * Training windows drawn uniformly at random from a token stream ({@code EOT d1 EOT d2 …}): a window may cross a
 * document boundary, as in GPT-2's own training, and the separator is then an ordinary token to predict. The
 * sequence of batches depends only on the stream, the window length and the seed ({@link Random} is specified to
 * be the same on every JVM).
 */
public final class WindowSampler {
    private final int[] stream;
    private final int length;
    private final Random random;

    public WindowSampler(int[] stream, int length, long seed) {
        if (length < 1) throw new IllegalArgumentException("window length must be positive");
        if (stream.length < length + 1)
            throw new IllegalArgumentException("stream of " + stream.length + " tokens is too short for windows of " + length);
        this.stream = stream;
        this.length = length;
        this.random = new Random(seed);
    }

    /** {@code rows} windows of {@code length} inputs, each target the next token of the stream. */
    public Batch next(int rows) {
        int[] inputs = new int[rows * length];
        int[] targets = new int[rows * length];
        for (int r = 0; r < rows; r++) {
            int start = random.nextInt(stream.length - length); // start + length is still a valid target index
            System.arraycopy(stream, start, inputs, r * length, length);
            System.arraycopy(stream, start + 1, targets, r * length, length);
        }
        return new Batch(rows, length, inputs, targets);
    }

    public int length() {
        return length;
    }
}
