package dev.loupe.neurons;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** Turns the indexer's accumulators into the stored index ({@link NeuronIndex} describes the layout). */
final class IndexWriter {
    static final int TOKEN_MEANS = 20, TAG_MEANS = 5, MIN_TAG_COUNT = 3;

    private IndexWriter() {
    }

    static NeuronIndex build(NeuronIndex.Meta meta, List<IndexCorpus.Window> windows, Accumulators acc, int[] tracked,
                             int[] tagClassId, LabelRule[] rules, WeightStats ws) {
        Out out = new Out();
        out.bytes(NeuronIndex.MAGIC);
        byte[] json = NeuronIndex.metaJson(meta);
        out.i(json.length);
        out.bytes(json);
        out.i(windows.size());
        for (IndexCorpus.Window w : windows) {
            out.i(w.doc());
            out.i(w.offset());
            out.i(w.tokens().length);
        }
        for (IndexCorpus.Window w : windows) for (int t : w.tokens()) out.i(t);
        int neurons = meta.neurons();
        out.i(neurons);
        int offsetsAt = out.size();
        for (int i = 0; i <= neurons; i++) out.i(0);
        int[] offsets = new int[neurons + 1];
        for (int g = 0; g < neurons; g++) {
            offsets[g] = out.size();
            record(out, g, acc, tracked, tagClassId, meta.classes().size(), rules[g], ws);
        }
        offsets[neurons] = out.size();
        byte[] bytes = out.toByteArray();
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i <= neurons; i++) b.putInt(offsetsAt + 4 * i, offsets[i]);
        return NeuronIndex.of(bytes);
    }

    private static void record(Out out, int g, Accumulators acc, int[] tracked, int[] tagClassId, int classes, LabelRule rule, WeightStats ws) {
        double n = acc.counted;
        double m1 = acc.sum[g] / n, m2 = acc.sq[g] / n, m3 = acc.cube[g] / n, m4 = acc.quart[g] / n;
        double var = Math.max(0, m2 - m1 * m1);
        double c3 = m3 - 3 * m1 * m2 + 2 * m1 * m1 * m1;
        double c4 = m4 - 4 * m1 * m3 + 6 * m1 * m1 * m2 - 3 * m1 * m1 * m1 * m1;
        out.f(acc.max[g]);
        out.f(acc.min[g]);
        out.f((float) m1);
        out.f((float) var);
        out.f((float) (var > 0 ? c3 / Math.pow(var, 1.5) : 0));
        out.f((float) (var > 0 ? c4 / (var * var) : 0));
        out.f((float) (acc.positive[g] / n));
        int[] top = acc.topOrder(g);
        float scale = contextScale(acc, g, top);
        out.f(scale);
        out.i(top.length);
        for (int s : top) example(out, acc.topWin[s], acc.topPos[s], acc.topAct[s], acc.topCtx, s * Accumulators.CTX, scale);
        for (int b = 0; b < Accumulators.BANDS; b++) {
            int cell = g * Accumulators.BANDS + b;
            out.l(acc.bandCount[cell]);
            List<Integer> slots = new ArrayList<>();
            for (int i = 0; i < acc.bandSize[cell]; i++) slots.add(cell * acc.bandK + i);
            slots.sort(Comparator.comparingDouble((Integer s) -> -acc.bandAct[s]).thenComparingInt(s -> acc.bandWin[s]).thenComparingInt(s -> acc.bandPos[s]));
            out.i(slots.size());
            for (int s : slots) example(out, acc.bandWin[s], acc.bandPos[s], acc.bandAct[s], acc.bandCtx, s * Accumulators.CTX, scale);
        }
        for (int b = 0; b < WeightStats.HIST_BINS; b++) out.varint(acc.hist[g * WeightStats.HIST_BINS + b]);
        // mean per vocabulary token: the highest
        List<NeuronIndex.Mean> toks = new ArrayList<>();
        for (int s = 0; s < tracked.length; s++)
            if (acc.tokenCount[s] > 0) toks.add(new NeuronIndex.Mean(tracked[s], acc.tokenSum[s * acc.neurons + g] / acc.tokenCount[s], acc.tokenCount[s]));
        means(out, toks, TOKEN_MEANS);
        // POS profile: mean per coarse class, and the highest fine tags
        double[] cs = new double[classes];
        long[] cc = new long[classes];
        List<NeuronIndex.Mean> tags = new ArrayList<>();
        for (int t = 0; t < acc.tags; t++) {
            if (acc.tagCount[t] == 0) continue;
            cs[tagClassId[t]] += acc.tagSum[t * acc.neurons + g];
            cc[tagClassId[t]] += acc.tagCount[t];
            if (t > 0 && acc.tagCount[t] >= MIN_TAG_COUNT) tags.add(new NeuronIndex.Mean(t, acc.tagSum[t * acc.neurons + g] / acc.tagCount[t], acc.tagCount[t]));
        }
        out.i(classes);
        for (int c = 0; c < classes; c++) out.f(cc[c] == 0 ? Float.NaN : (float) (cs[c] / cc[c]));
        means(out, tags, TAG_MEANS);
        out.f(ws.vocabKurtosis[g]);
        out.f(ws.vocabSkew[g]);
        out.f(ws.wIn[g]);
        out.f(ws.wOut[g]);
        out.f(ws.cos[g]);
        out.f(ws.effectMin[g]);
        out.f(ws.effectMax[g]);
        out.i(ws.topTokenNeuron[g]);
        for (int i = 0; i < WeightStats.LOGITS; i++) { out.i(ws.topIds[g * WeightStats.LOGITS + i]); out.f(ws.topValues[g * WeightStats.LOGITS + i]); }
        for (int i = 0; i < WeightStats.LOGITS; i++) { out.i(ws.bottomIds[g * WeightStats.LOGITS + i]); out.f(ws.bottomValues[g * WeightStats.LOGITS + i]); }
        for (int b = 0; b < WeightStats.HIST_BINS; b++) out.varint(ws.effectHist[g * WeightStats.HIST_BINS + b]);
        out.i(rule.tokens().length);
        for (int t : rule.tokens()) out.i(t);
        out.i(rule.tagClass());
        out.f((float) rule.share());
        out.f(rule.isEmpty() ? Float.NaN : (float) LabelRule.pearson(acc.scored, acc.sx[g], acc.sxx[g], acc.sxi[g], acc.si[g]));
    }

    private static void means(Out out, List<NeuronIndex.Mean> all, int keep) {
        all.sort(Comparator.comparingDouble((NeuronIndex.Mean m) -> -m.mean()).thenComparingInt(NeuronIndex.Mean::id));
        List<NeuronIndex.Mean> kept = all.subList(0, Math.min(keep, all.size()));
        out.i(kept.size());
        for (NeuronIndex.Mean m : kept) {
            out.i(m.id());
            out.f(m.mean());
            out.i((int) m.count());
        }
    }

    /**
     * Context activations are stored in 8 bits, in steps of the largest stored context magnitude / 127 (they colour tokens;
     * the example's own activation is stored in full). -128 marks a position outside the window.
     */
    static float contextScale(Accumulators acc, int g, int[] top) {
        float m = 0;
        for (int s : top) for (int i = 0; i < Accumulators.CTX; i++) m = magnitude(m, acc.topCtx[s * Accumulators.CTX + i]);
        for (int s = g * Accumulators.BANDS * acc.bandK; s < (g + 1) * Accumulators.BANDS * acc.bandK; s++)
            for (int i = 0; i < Accumulators.CTX; i++) m = magnitude(m, acc.bandCtx[s * Accumulators.CTX + i]);
        return m > 0 ? m / 127f : 1f;
    }

    private static float magnitude(float m, float a) { return Float.isNaN(a) ? m : Math.max(m, Math.abs(a)); }

    private static void example(Out out, int win, int pos, float act, float[] ctx, int at, float scale) {
        out.i(win);
        out.s((short) pos);
        out.f(act);
        for (int i = 0; i < Accumulators.CTX; i++) {
            float a = ctx[at + i];
            out.b(Float.isNaN(a) ? -128 : (byte) Math.max(-127, Math.min(127, Math.round(a / scale))));
        }
    }

    /** Writes the index to a temporary file beside {@code file} and moves it into place, so readers see the old or the new index, never half of one. */
    static void writeAtomically(NeuronIndex index, Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
        try {
            byte[] bytes = index.bytes();
            if (file.getFileName().toString().endsWith(".gz")) {
                ByteArrayOutputStream bos = new ByteArrayOutputStream();
                try (var gz = new java.util.zip.GZIPOutputStream(bos, 1 << 16) { { def.setLevel(java.util.zip.Deflater.BEST_COMPRESSION); } }) {
                    gz.write(bytes);
                }
                bytes = bos.toByteArray();
            }
            Files.write(tmp, bytes);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** A little-endian byte buffer that grows. */
    private static final class Out {
        private ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);

        private void room(int n) {
            if (buf.remaining() >= n) return;
            ByteBuffer bigger = ByteBuffer.allocate(Math.max(buf.capacity() * 2, buf.position() + n)).order(ByteOrder.LITTLE_ENDIAN);
            buf.flip();
            bigger.put(buf);
            buf = bigger;
        }

        void i(int v) { room(4); buf.putInt(v); }
        void l(long v) { room(8); buf.putLong(v); }
        void f(float v) { room(4); buf.putFloat(v); }
        void s(short v) { room(2); buf.putShort(v); }
        void b(int v) { room(1); buf.put((byte) v); }
        /** Unsigned LEB128: counts are mostly small. */
        void varint(int v) {
            room(5);
            while ((v & ~0x7F) != 0) {
                buf.put((byte) ((v & 0x7F) | 0x80));
                v >>>= 7;
            }
            buf.put((byte) v);
        }
        void bytes(byte[] b) { room(b.length); buf.put(b); }
        int size() { return buf.position(); }
        byte[] toByteArray() { return java.util.Arrays.copyOf(buf.array(), buf.position()); }
    }
}
