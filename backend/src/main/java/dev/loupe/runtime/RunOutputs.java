package dev.loupe.runtime;

import ai.onnxruntime.OnnxTensor;
import dev.loupe.model.Tensor;

import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The tensors of one run, left where ONNX Runtime wrote them and copied to the Java heap on first read, so a
 * run that caches every hook does not pay for copying what nobody reads. Native memory is released by
 * {@link #close()}, by {@link #spill()} (which first copies what is unread), or by a cleaner once the run's
 * result is unreachable.
 */
final class RunOutputs {
    private static final Cleaner CLEANER = Cleaner.create();

    /** What must be closed to free the native memory; shared with the cleaner, so it must not refer to RunOutputs. */
    private static final class Natives implements Runnable {
        final List<AutoCloseable> owners = new ArrayList<>();
        final AtomicLong liveBytes;
        long bytes;
        boolean freed;

        Natives(AtomicLong liveBytes) { this.liveBytes = liveBytes; }

        @Override public synchronized void run() {
            if (freed) return;
            freed = true;
            for (AutoCloseable c : owners) {
                try {
                    c.close();
                } catch (Exception ignored) { /* freeing is best effort */ }
            }
            owners.clear();
            liveBytes.addAndGet(-bytes);
        }
    }

    private final Map<String, OnnxTensor> natives = new LinkedHashMap<>();
    private final Map<String, int[]> layouts = new LinkedHashMap<>();
    private final Map<String, Tensor> heap = new LinkedHashMap<>();
    private final Natives state;
    private final Cleaner.Cleanable cleanable;

    RunOutputs(AtomicLong liveBytes) {
        this.state = new Natives(liveBytes);
        this.cleanable = CLEANER.register(this, state);
    }

    /** Takes ownership of something that holds native tensors (a session result, an input tensor). */
    synchronized void own(AutoCloseable owner) { state.owners.add(owner); }

    /** Registers a tensor under a name; it must belong to something {@link #own}ed. */
    synchronized void put(String name, OnnxTensor t) { put(name, t, null); }

    /** As {@link #put(String, OnnxTensor)}, stored in another dimension order (see CompiledGraph#hookLayouts). */
    synchronized void put(String name, OnnxTensor t, int[] layout) {
        natives.put(name, t);
        if (layout != null) layouts.put(name, layout);
        long b = 4L * t.getInfo().getNumElements();
        state.bytes += b;
        state.liveBytes.addAndGet(b);
    }

    synchronized boolean has(String name) { return natives.containsKey(name) || heap.containsKey(name); }

    synchronized long nativeBytes() { return state.freed ? 0 : state.bytes; }

    /** The tensor, copied to the heap the first time it is read. */
    synchronized Tensor get(String name) {
        Tensor t = heap.get(name);
        if (t != null) return t;
        OnnxTensor n = natives.get(name);
        if (n == null) return null;
        if (state.freed) throw new IllegalStateException("'" + name + "' was not read before its run result was closed");
        t = layouts.containsKey(name) ? permuted(n, layouts.get(name)) : toTensor(n);
        heap.put(name, t);
        return t;
    }

    /** Copies whatever is unread to the heap, then frees the native memory. */
    synchronized void spill() {
        if (state.freed) return;
        for (String name : natives.keySet()) get(name);
        cleanable.clean();
    }

    /** Frees the native memory; tensors already read stay valid. */
    synchronized void close() { cleanable.clean(); }

    /** Copies with dimension i of the result taken from dimension perm[i] of the source; the last stays last. */
    static Tensor permuted(OnnxTensor t, int[] perm) {
        long[] src = t.getInfo().getShape();
        int rank = src.length, row = (int) src[rank - 1];
        if (perm[rank - 1] != rank - 1) throw new IllegalArgumentException("the last dimension must stay last");
        int[] shape = new int[rank];
        for (int i = 0; i < rank; i++) shape[i] = (int) src[perm[i]];
        long[] srcStride = new long[rank];
        for (int i = rank - 1, s = 1; i >= 0; i--) {
            srcStride[i] = s;
            s *= (int) src[i];
        }
        java.nio.FloatBuffer in = t.getFloatBuffer(); // one copy out of native memory, then rows are reordered
        float[] from = in.array(), to = new float[from.length];
        int[] idx = new int[rank - 1];
        for (int o = 0; o < to.length; o += row) {
            long off = 0;
            for (int i = 0; i < rank - 1; i++) off += idx[i] * srcStride[perm[i]];
            System.arraycopy(from, (int) off, to, o, row);
            for (int i = rank - 2; i >= 0 && ++idx[i] == shape[i]; i--) idx[i] = 0;
        }
        return new Tensor(to, shape);
    }

    static Tensor toTensor(OnnxTensor t) {
        long[] shape = t.getInfo().getShape();
        int[] s = new int[shape.length];
        for (int i = 0; i < s.length; i++) s[i] = (int) shape[i];
        return new Tensor(t.getFloatBuffer().array(), s);
    }
}
