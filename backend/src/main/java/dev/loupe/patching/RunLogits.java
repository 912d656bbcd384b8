package dev.loupe.patching;

import dev.loupe.model.Tensor;

/** Slicing runs' [rows, pos, width] outputs to the positions a metric reads. */
final class RunLogits {
    /** Key of the logits in a prepared run's cache. */
    static final String KEY = "logits";

    private RunLogits() {}

    /** {@code t[:, at:at+1, :]}, or {@code t} itself when {@code at} is -1 (every position). */
    static Tensor at(Tensor t, int at) {
        if (at < 0) return t;
        int rows = t.dim(0), pos = t.dim(1), w = t.dim(2);
        float[] out = new float[rows * w];
        for (int r = 0; r < rows; r++) System.arraycopy(t.data(), (r * pos + at) * w, out, r * w, w);
        return new Tensor(out, rows, 1, w);
    }
}
