package dev.loupe.runtime;

import dev.loupe.hooks.HookPoint;
import dev.loupe.model.Tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.List;

/**
 * The mask and value fed to one hook's patch port, merged from every patch of that hook. Both have the hook's
 * full shape for the run; values outside the mask are never read.
 */
final class PatchPorts {
    final int[] shape;
    final ByteBuffer mask;
    final FloatBuffer value;

    private PatchPorts(int[] shape, ByteBuffer mask, FloatBuffer value) {
        this.shape = shape;
        this.mask = mask;
        this.value = value;
    }

    static PatchPorts build(HookPoint hook, int[] shape, List<Patch> patches) {
        int n = (int) Tensor.numel(shape);
        ByteBuffer mask = ByteBuffer.allocateDirect(n);
        FloatBuffer value = ByteBuffer.allocateDirect(n * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
        for (Patch p : patches) apply(hook, shape, p, mask, value);
        return new PatchPorts(shape, mask, value);
    }

    private static void apply(HookPoint hook, int[] shape, Patch p, ByteBuffer mask, FloatBuffer value) {
        int rank = shape.length;
        int[][] sel = new int[rank][];
        for (int d = 0; d < rank; d++) {
            int[] s = p.where().along(hook, d, shape[d]);
            if (s == null) {
                s = new int[shape[d]];
                for (int i = 0; i < s.length; i++) s[i] = i;
            }
            sel[d] = s;
        }
        Tensor v = p.value();
        int[] vStride = null;
        if (v != null) vStride = broadcastStrides(hook, shape, v);
        int[] strides = new int[rank];
        for (int d = rank - 1, s = 1; d >= 0; d--) {
            strides[d] = s;
            s *= shape[d];
        }
        int[] idx = new int[rank];
        for (int d = 0; d < rank; d++) if (sel[d].length == 0) return;
        float[] vd = v == null ? null : v.data();
        while (true) {
            int off = 0, voff = 0;
            for (int d = 0; d < rank; d++) {
                off += sel[d][idx[d]] * strides[d];
                if (vStride != null) voff += sel[d][idx[d]] * vStride[d];
            }
            mask.put(off, (byte) 1);
            value.put(off, vd == null ? 0f : vd[voff]);
            int d = rank - 1;
            while (d >= 0 && ++idx[d] == sel[d].length) idx[d--] = 0;
            if (d < 0) return;
        }
    }

    /** Strides that read {@code v} broadcast to {@code shape} (NumPy rules: trailing alignment, dims equal or 1). */
    private static int[] broadcastStrides(HookPoint hook, int[] shape, Tensor v) {
        int rank = shape.length, vr = v.rank();
        if (vr > rank) throw new IllegalArgumentException(mismatch(hook, shape, v));
        int[] vs = v.shape();
        int[] own = new int[vr];
        for (int d = vr - 1, s = 1; d >= 0; d--) {
            own[d] = s;
            s *= vs[d];
        }
        int[] out = new int[rank];
        for (int d = 0; d < rank; d++) {
            int vd = d - (rank - vr);
            if (vd < 0) continue;
            if (vs[vd] == shape[d]) out[d] = own[vd];
            else if (vs[vd] == 1) out[d] = 0;
            else throw new IllegalArgumentException(mismatch(hook, shape, v));
        }
        return out;
    }

    private static String mismatch(HookPoint hook, int[] shape, Tensor v) {
        return "patch value for " + hook.name() + " has shape " + Arrays.toString(v.shape()) + ", which does not broadcast to " + Arrays.toString(shape);
    }
}
