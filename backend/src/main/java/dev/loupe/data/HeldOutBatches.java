package dev.loupe.data;

import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * The held-out stream ({@code EOT d1 EOT d2 … EOT dk}) cut into consecutive windows of {@code length} inputs, so every
 * document token is a target exactly once, predicted from the tokens before it in its window. Separators are
 * inputs but never targets ({@link TokenDataset#IGNORE}): the scored set is the same as the n-gram baselines',
 * every token of every held-out document. The last window is padded with separators and ignored targets.
 */
public final class HeldOutBatches implements Iterable<Batch> {
    private final int[] stream;
    private final int eot;
    private final int length;
    private final int rows;
    private final int windows;

    public HeldOutBatches(int[] stream, int eot, int length, int rows) {
        if (length < 1 || rows < 1) throw new IllegalArgumentException("length and rows must be positive");
        this.stream = stream;
        this.eot = eot;
        this.length = length;
        this.rows = rows;
        this.windows = stream.length <= 1 ? 0 : (stream.length - 1 + length - 1) / length;
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
            int start = (first + r) * length;
            for (int t = 0; t < length; t++) {
                int i = start + t;
                inputs[r * length + t] = i < stream.length ? stream[i] : eot;
                int next = i + 1 < stream.length ? stream[i + 1] : eot;
                targets[r * length + t] = next == eot ? TokenDataset.IGNORE : next;
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
