package dev.loupe.patching;

import java.util.List;

/**
 * A sweep's outcome: the raw metric of every patched index (row-major in {@code shape}, named by {@code axes}),
 * the unpatched clean and corrupted metrics, and the attribution estimate of every index (null when not asked).
 */
public record PatchingResult(String sweep, String mode, String metric, List<String> axes, int[] shape, float[] values,
                             double cleanMetric, double corruptMetric, float[] attribution) {

    /** {@code (v − corrupted) / (clean − corrupted)}: 1 = fully restored, 0 = as corrupted; 0 when both metrics agree. */
    public float[] normalise(float[] raw) {
        if (raw == null) return null;
        double d = cleanMetric - corruptMetric;
        float[] out = new float[raw.length];
        if (Math.abs(d) < 1e-12) return out;
        for (int i = 0; i < raw.length; i++) out[i] = (float) ((raw[i] - corruptMetric) / d);
        return out;
    }

    public float[] normalised() { return normalise(values); }

    /** A flat row-major array as nested lists in {@code shape} (for JSON). */
    public static Object nested(float[] flat, int[] shape) {
        return nested(flat, shape, 0, 0);
    }

    private static Object nested(float[] flat, int[] shape, int dim, int offset) {
        int stride = 1;
        for (int d = dim + 1; d < shape.length; d++) stride *= shape[d];
        List<Object> out = new java.util.ArrayList<>(shape[dim]);
        for (int i = 0; i < shape[dim]; i++)
            out.add(dim == shape.length - 1 ? (Object) flat[offset + i] : nested(flat, shape, dim + 1, offset + i * stride));
        return out;
    }
}
