package dev.loupe.data;

import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * The held-out stream ({@code EOT d1 EOT d2 … EOT dk}) cut into windows of {@code length} inputs so that every
 * document token is a target exactly once, predicted from the tokens before it in its window. Windows start every
 * {@code stride} tokens: with {@code stride == length} they are consecutive (a token at a window's start has no
 * context); with a smaller stride they overlap and each window after the first scores only its last {@code stride}
 * targets, so every token but the first {@code length} is predicted from at least {@code length − stride} tokens
 * before it (the usual sliding-window evaluation; it costs {@code length / stride} times the forward passes).
 * Separators are inputs but never targets ({@link TokenDataset#IGNORE}): the scored set is the same as the n-gram
 * baselines', every token of every held-out document. The last window is padded with separators and ignored targets.
 */
public final class HeldOutBatches implements Iterable<Batch> {
    private final int[] stream;
    private final int eot;
    private final int length;
    private final int stride;
    private final int rows;
    private final int windows;

    public HeldOutBatches(int[] stream, int eot, int length, int rows) {
        this(stream, eot, length, length, rows);
    }

    public HeldOutBatches(int[] stream, int eot, int length, int stride, int rows) {
        if (length < 1 || rows < 1) throw new IllegalArgumentException("length and rows must be positive");
        if (stride < 1 || stride > length) throw new IllegalArgumentException("stride must be between 1 and the window length " + length + ", got " + stride);
        this.stream = stream;
        this.eot = eot;
        this.length = length;
        this.stride = stride;
        this.rows = rows;
        // stream positions 0 … n−2 are inputs with a target: the first window covers `length`, each later one `stride`
        int inputs = stream.length - 1;
        this.windows = inputs <= 0 ? 0 : 1 + Math.max(0, (inputs - length + stride - 1) / stride);
    }

    public int windowCount() {
        return windows;
    }

    public int batchCount() {
        return (windows + rows - 1) / rows;
    }

    /** Batch {@code b}: windows {@code b·rows …}, the last batch holding only the windows left. */
    public Batch batch(int b) {
        if (b < 0 || b >= batchCount()) throw new IndexOutOfBoundsException(b);
        int first = b * rows;
        int n = Math.min(rows, windows - first);
        int[] inputs = new int[n * length];
        int[] targets = new int[n * length];
        for (int r = 0; r < n; r++) {
            int window = first + r;
            int start = window * stride;
            int scoredFrom = window == 0 ? 0 : length - stride; // earlier targets belong to the window before
            for (int t = 0; t < length; t++) {
                int i = start + t;
                inputs[r * length + t] = i < stream.length ? stream[i] : eot;
                int next = i + 1 < stream.length ? stream[i + 1] : eot;
                targets[r * length + t] = next == eot || t < scoredFrom ? TokenDataset.IGNORE : next;
            }
        }
        return new Batch(n, length, inputs, targets);
    }

    @Override
    public Iterator<Batch> iterator() {
        return new Iterator<>() {
            private int next;

            @Override
            public boolean hasNext() {
                return next < batchCount();
            }

            @Override
            public Batch next() {
                if (!hasNext()) throw new NoSuchElementException();
                return batch(next++);
            }
        };
    }
}
