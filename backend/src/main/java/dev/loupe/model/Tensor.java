package dev.loupe.model;

import java.util.Arrays;

/**
 * A dense float tensor: a row-major {@code float[]} and a shape. Views share nothing but {@link #reshape};
 * everything else copies, so a tensor handed out can be kept safely.
 */
public final class Tensor {
    private final float[] data;
    private final int[] shape;

    public Tensor(float[] data, int... shape) {
        long n = numel(shape);
        if (n != data.length)
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + n + " values, got " + data.length);
        this.data = data;
        this.shape = shape.clone();
    }

    public static Tensor zeros(int... shape) {
        long n = numel(shape);
        if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("tensor too large: " + Arrays.toString(shape));
        return new Tensor(new float[(int) n], shape);
    }

    public static Tensor scalar(float v) { return new Tensor(new float[]{v}); }

    /** Number of elements of a shape; negative dimensions are rejected. */
    public static long numel(int... shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            n *= d;
        }
        return n;
    }

    /** The backing array (row-major); writes go to this tensor. */
    public float[] data() { return data; }
    public int[] shape() { return shape.clone(); }
    public int rank() { return shape.length; }
    public int size() { return data.length; }

    /** Size of a dimension; negative indices count from the end. */
    public int dim(int axis) { return shape[axis < 0 ? shape.length + axis : axis]; }

    public boolean hasShape(int... s) { return Arrays.equals(shape, s); }

    public float get(int... index) { return data[offset(index)]; }
    public void set(float value, int... index) { data[offset(index)] = value; }

    public int offset(int... index) {
        if (index.length != shape.length)
            throw new IllegalArgumentException("index of rank " + index.length + " for tensor of shape " + Arrays.toString(shape));
        int off = 0;
        for (int i = 0; i < shape.length; i++) {
            if (index[i] < 0 || index[i] >= shape[i])
                throw new IndexOutOfBoundsException("index " + Arrays.toString(index) + " outside shape " + Arrays.toString(shape));
            off = off * shape[i] + index[i];
        }
        return off;
    }

    /** Same data, new shape (one dimension may be -1). */
    public Tensor reshape(int... newShape) {
        int[] s = newShape.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (infer >= 0) throw new IllegalArgumentException("only one dimension may be -1");
                infer = i;
            } else known *= s[i];
        }
        if (infer >= 0) {
            if (known == 0 || data.length % known != 0)
                throw new IllegalArgumentException("cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
            s[infer] = (int) (data.length / known);
        }
        return new Tensor(data, s);
    }

    public Tensor copy() { return new Tensor(data.clone(), shape); }

    /** The sub-tensor at {@code index} of the first dimension (a copy, rank reduced by one). */
    public Tensor select(int index) {
        if (index < 0 || index >= shape[0]) throw new IndexOutOfBoundsException("index " + index + " of dimension " + shape[0]);
        int inner = data.length / shape[0];
        return new Tensor(Arrays.copyOfRange(data, index * inner, (index + 1) * inner), Arrays.copyOfRange(shape, 1, shape.length));
    }

    /**
     * Keeps the leading {@code lengths[d]} entries of each dimension (a copy). Used to trim padded batches;
     * {@code lengths} may be shorter than the rank, later dimensions are kept whole.
     */
    public Tensor crop(int... lengths) {
        int[] out = shape.clone();
        for (int i = 0; i < lengths.length; i++) {
            if (lengths[i] < 0 || lengths[i] > shape[i])
                throw new IllegalArgumentException("cannot crop dimension " + i + " of " + Arrays.toString(shape) + " to " + lengths[i]);
            out[i] = lengths[i];
        }
        if (Arrays.equals(out, shape)) return copy();
        Tensor t = zeros(out);
        copyBox(data, shape, t.data, out, 0, 0, 0);
        return t;
    }

    private static void copyBox(float[] src, int[] srcShape, float[] dst, int[] dstShape, int dim, int srcOff, int dstOff) {
        if (dim == srcShape.length - 1) {
            System.arraycopy(src, srcOff, dst, dstOff, dstShape[dim]);
            return;
        }
        int srcStride = 1, dstStride = 1;
        for (int i = dim + 1; i < srcShape.length; i++) {
            srcStride *= srcShape[i];
            dstStride *= dstShape[i];
        }
        for (int i = 0; i < dstShape[dim]; i++)
            copyBox(src, srcShape, dst, dstShape, dim + 1, srcOff + i * srcStride, dstOff + i * dstStride);
    }

    /** Mean over the given dimensions, kept as size 1 so the result broadcasts back (e.g. as a patch value). */
    public Tensor meanOver(int... dims) {
        int[] out = shape.clone();
        for (int d : dims) out[d < 0 ? d + shape.length : d] = 1;
        Tensor t = zeros(out);
        int[] idx = new int[shape.length];
        for (int i = 0; i < data.length; i++) {
            int o = 0;
            for (int k = 0; k < shape.length; k++) o = o * out[k] + (out[k] == 1 ? 0 : idx[k]);
            t.data[o] += data[i];
            for (int k = shape.length - 1; k >= 0 && ++idx[k] == shape[k]; k--) idx[k] = 0;
        }
        float scale = (float) t.data.length / data.length;
        for (int i = 0; i < t.data.length; i++) t.data[i] *= scale;
        return t;
    }

    /** Largest absolute elementwise difference; shapes must match. */
    public float maxAbsDiff(Tensor other) {
        if (!Arrays.equals(shape, other.shape))
            throw new IllegalArgumentException("shapes differ: " + Arrays.toString(shape) + " vs " + Arrays.toString(other.shape));
        float m = 0;
        for (int i = 0; i < data.length; i++) {
            float a = data[i], b = other.data[i];
            if (a == b) continue; // also equal infinities, e.g. masked attention scores
            float d = Math.abs(a - b);
            if (Float.isNaN(d)) return Float.NaN;
            if (d > m) m = d;
        }
        return m;
    }

    @Override public String toString() { return "Tensor" + Arrays.toString(shape); }
}
