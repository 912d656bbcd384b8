package dev.loupe.neurons;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Everything the indexer has gathered so far, per neuron {@code g = layer · d_mlp + n}, as flat arrays: it is
 * both the state a checkpoint saves and the raw material of the index. Pass 1 gathers moments, extremes, the
 * top-k examples (with their context activations) and the sums per vocabulary token and per POS tag; pass 2 the
 * histogram over [min, max], the seeded band examples, and the label scores on the held-out documents.
 */
final class Accumulators {
    static final int CTX_BEFORE = 12, CTX_AFTER = 3, CTX = CTX_BEFORE + 1 + CTX_AFTER;
    static final int BANDS = 5;

    final int neurons, k, bandK, trackedTokens, tags;

    /** Where the scan is: phase 0 = pass 1, 1 = pass 2, 2 = label scoring; the next batch of that phase. */
    int phase, nextBatch;
    long counted, scored;
    final double[] sum, sq, cube, quart;
    final float[] max, min;
    final long[] positive;
    // top-k: slots per neuron, plus a min-heap of slot numbers whose root is the weakest example
    final float[] topAct, topCtx;
    final int[] topWin, topPos, topSize, topHeap;
    final long[] topSeq;
    final float[] topThreshold;
    // per tracked token / per tag, laid out [token][neuron] so one position writes one contiguous run
    final float[] tokenSum, tagSum;
    final long[] tokenCount, tagCount;
    // pass 2
    final int[] hist;
    final long[] bandKey;
    final int[] bandWin, bandPos, bandSize;
    final float[] bandAct, bandCtx;
    final long[] bandCount;
    // label scoring: Σx, Σx², Σx·i, Σi with i the label rule's indicator
    final double[] sx, sxx, sxi;
    final long[] si;

    Accumulators(int neurons, int k, int bandK, int trackedTokens, int tags) {
        this.neurons = neurons;
        this.k = k;
        this.bandK = bandK;
        this.trackedTokens = trackedTokens;
        this.tags = tags;
        sum = new double[neurons];
        sq = new double[neurons];
        cube = new double[neurons];
        quart = new double[neurons];
        max = new float[neurons];
        min = new float[neurons];
        Arrays.fill(max, Float.NEGATIVE_INFINITY);
        Arrays.fill(min, Float.POSITIVE_INFINITY);
        positive = new long[neurons];
        topAct = new float[neurons * k];
        topCtx = new float[neurons * k * CTX];
        topWin = new int[neurons * k];
        topPos = new int[neurons * k];
        topSeq = new long[neurons * k];
        topSize = new int[neurons];
        topHeap = new int[neurons * k];
        topThreshold = new float[neurons];
        Arrays.fill(topThreshold, Float.NEGATIVE_INFINITY);
        tokenSum = new float[trackedTokens * neurons];
        tokenCount = new long[trackedTokens];
        tagSum = new float[tags * neurons];
        tagCount = new long[tags];
        hist = new int[neurons * WeightStats.HIST_BINS];
        int bands = neurons * BANDS * bandK;
        bandKey = new long[bands];
        bandWin = new int[bands];
        bandPos = new int[bands];
        bandAct = new float[bands];
        bandCtx = new float[bands * CTX];
        bandSize = new int[neurons * BANDS];
        bandCount = new long[neurons * BANDS];
        sx = new double[neurons];
        sxx = new double[neurons];
        sxi = new double[neurons];
        si = new long[neurons];
    }

    /** Offers an example to neuron g's top-k (strictly better than the weakest kept: earlier examples win ties). */
    void offerTop(int g, float x, int win, int pos, long seq, float[] acts, int rowOffset, int len, int stride, int n) {
        int base = g * k;
        int slot;
        if (topSize[g] < k) {
            slot = topSize[g]++;
            topHeap[base + slot] = slot;
            fillTop(base + slot, x, win, pos, seq, acts, rowOffset, len, stride, n);
            siftUp(base, slot);
            if (topSize[g] == k) topThreshold[g] = topAct[base + topHeap[base]];
            return;
        }
        slot = topHeap[base];
        fillTop(base + slot, x, win, pos, seq, acts, rowOffset, len, stride, n);
        siftDown(base, 0, k);
        topThreshold[g] = topAct[base + topHeap[base]];
    }

    private void fillTop(int at, float x, int win, int pos, long seq, float[] acts, int rowOffset, int len, int stride, int n) {
        topAct[at] = x;
        topWin[at] = win;
        topPos[at] = pos;
        topSeq[at] = seq;
        copyContext(topCtx, at * CTX, acts, rowOffset, len, stride, n, pos);
    }

    /** The activations at positions [pos − 12, pos + 3] of the window, NaN where the window has none. */
    static void copyContext(float[] into, int at, float[] acts, int rowOffset, int len, int stride, int n, int pos) {
        for (int i = 0; i < CTX; i++) {
            int q = pos - CTX_BEFORE + i;
            into[at + i] = q >= 0 && q < len ? acts[rowOffset + q * stride + n] : Float.NaN;
        }
    }

    /** True when slot a is a weaker example than slot b: lower activation, or equal and later in the scan. */
    private boolean weaker(int a, int b) {
        return topAct[a] < topAct[b] || (topAct[a] == topAct[b] && topSeq[a] > topSeq[b]);
    }

    private void siftUp(int base, int i) {
        while (i > 0) {
            int parent = (i - 1) / 2;
            if (!weaker(base + topHeap[base + i], base + topHeap[base + parent])) return;
            swap(base, i, parent);
            i = parent;
        }
    }

    private void siftDown(int base, int i, int size) {
        while (true) {
            int l = 2 * i + 1, r = l + 1, w = i;
            if (l < size && weaker(base + topHeap[base + l], base + topHeap[base + w])) w = l;
            if (r < size && weaker(base + topHeap[base + r], base + topHeap[base + w])) w = r;
            if (w == i) return;
            swap(base, i, w);
            i = w;
        }
    }

    private void swap(int base, int i, int j) {
        int t = topHeap[base + i];
        topHeap[base + i] = topHeap[base + j];
        topHeap[base + j] = t;
    }

    /** Neuron g's top-k slots, strongest first. */
    int[] topOrder(int g) {
        int base = g * k;
        Integer[] slots = new Integer[topSize[g]];
        for (int i = 0; i < slots.length; i++) slots[i] = i;
        Arrays.sort(slots, (a, b) -> weaker(base + a, base + b) ? 1 : weaker(base + b, base + a) ? -1 : 0);
        int[] out = new int[slots.length];
        for (int i = 0; i < out.length; i++) out[i] = base + slots[i];
        return out;
    }

    /** Offers a pass-2 example to band b of neuron g: kept when its seeded key is among the band's bandK smallest. */
    void offerBand(int g, int b, float x, int win, int pos, long key, float[] acts, int rowOffset, int len, int stride, int n) {
        int cell = g * BANDS + b;
        int base = cell * bandK;
        int size = bandSize[cell];
        if (size == bandK && Long.compareUnsigned(key, bandKey[base + size - 1]) >= 0) return;
        int at = size == bandK ? size - 1 : size;
        if (size < bandK) bandSize[cell]++;
        while (at > 0 && Long.compareUnsigned(key, bandKey[base + at - 1]) < 0) {
            move(base + at - 1, base + at);
            at--;
        }
        int i = base + at;
        bandKey[i] = key;
        bandWin[i] = win;
        bandPos[i] = pos;
        bandAct[i] = x;
        copyContext(bandCtx, i * CTX, acts, rowOffset, len, stride, n, pos);
    }

    private void move(int from, int to) {
        bandKey[to] = bandKey[from];
        bandWin[to] = bandWin[from];
        bandPos[to] = bandPos[from];
        bandAct[to] = bandAct[from];
        System.arraycopy(bandCtx, from * CTX, bandCtx, to * CTX, CTX);
    }

    // ---- checkpoint: every field in a fixed order, arrays as raw little-endian bytes

    void write(DataOutputStream out) throws IOException {
        out.writeInt(phase);
        out.writeInt(nextBatch);
        out.writeLong(counted);
        out.writeLong(scored);
        for (double[] a : new double[][]{sum, sq, cube, quart, sx, sxx, sxi}) writeArray(out, a);
        for (float[] a : new float[][]{max, min, topAct, topCtx, topThreshold, tokenSum, tagSum, bandAct, bandCtx}) writeArray(out, a);
        for (int[] a : new int[][]{topWin, topPos, topSize, topHeap, hist, bandWin, bandPos, bandSize}) writeArray(out, a);
        for (long[] a : new long[][]{positive, topSeq, tokenCount, tagCount, bandKey, bandCount, si}) writeArray(out, a);
    }

    void read(DataInputStream in) throws IOException {
        phase = in.readInt();
        nextBatch = in.readInt();
        counted = in.readLong();
        scored = in.readLong();
        for (double[] a : new double[][]{sum, sq, cube, quart, sx, sxx, sxi}) readArray(in, a);
        for (float[] a : new float[][]{max, min, topAct, topCtx, topThreshold, tokenSum, tagSum, bandAct, bandCtx}) readArray(in, a);
        for (int[] a : new int[][]{topWin, topPos, topSize, topHeap, hist, bandWin, bandPos, bandSize}) readArray(in, a);
        for (long[] a : new long[][]{positive, topSeq, tokenCount, tagCount, bandKey, bandCount, si}) readArray(in, a);
    }

    private static final int CHUNK = 1 << 16;

    private static void writeArray(DataOutputStream out, Object array) throws IOException {
        int n = java.lang.reflect.Array.getLength(array);
        out.writeInt(n);
        int width = array instanceof double[] || array instanceof long[] ? 8 : 4;
        ByteBuffer buf = ByteBuffer.allocate(CHUNK * width).order(ByteOrder.LITTLE_ENDIAN);
        for (int from = 0; from < n; from += CHUNK) {
            int len = Math.min(CHUNK, n - from);
            buf.clear();
            switch (array) {
                case double[] a -> buf.asDoubleBuffer().put(a, from, len);
                case float[] a -> buf.asFloatBuffer().put(a, from, len);
                case int[] a -> buf.asIntBuffer().put(a, from, len);
                case long[] a -> buf.asLongBuffer().put(a, from, len);
                default -> throw new IllegalArgumentException();
            }
            out.write(buf.array(), 0, len * width);
        }
    }

    private static void readArray(DataInputStream in, Object array) throws IOException {
        int n = java.lang.reflect.Array.getLength(array);
        if (in.readInt() != n) throw new IOException("checkpoint does not match this run (array sizes differ)");
        int width = array instanceof double[] || array instanceof long[] ? 8 : 4;
        byte[] bytes = new byte[CHUNK * width];
        for (int from = 0; from < n; from += CHUNK) {
            int len = Math.min(CHUNK, n - from);
            in.readFully(bytes, 0, len * width);
            ByteBuffer buf = ByteBuffer.wrap(bytes, 0, len * width).order(ByteOrder.LITTLE_ENDIAN);
            switch (array) {
                case double[] a -> buf.asDoubleBuffer().get(a, from, len);
                case float[] a -> buf.asFloatBuffer().get(a, from, len);
                case int[] a -> buf.asIntBuffer().get(a, from, len);
                case long[] a -> buf.asLongBuffer().get(a, from, len);
                default -> throw new IllegalArgumentException();
            }
        }
    }
}
