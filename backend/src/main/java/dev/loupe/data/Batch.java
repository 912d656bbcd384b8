package dev.loupe.data;

/**
 * A batch of token windows for next-token prediction, row-major {@code [rows, length]}: {@code targets[r][t]} is the
 * token that follows {@code inputs[r][t]}, or {@link TokenDataset#IGNORE} where nothing is to be scored.
 */
public record Batch(int rows, int length, int[] inputs, int[] targets) {
    public Batch {
        if (inputs.length != rows * length || targets.length != rows * length)
            throw new IllegalArgumentException("inputs and targets must hold rows × length ids");
    }

    /** Targets that count towards the loss. */
    public int scoredCount() {
        int n = 0;
        for (int t : targets) if (t != TokenDataset.IGNORE) n++;
        return n;
    }
}
