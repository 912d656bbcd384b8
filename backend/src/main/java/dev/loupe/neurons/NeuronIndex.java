package dev.loupe.neurons;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * A neuron index as stored: one file, read whole into memory and decoded per neuron on demand, so a page needs
 * one small decode and no query. Layout (little-endian): the magic {@code LOUPENI1}; the metadata as JSON; the
 * windows the model ran (document, offset, tokens); an offset per neuron; one record per neuron (statistics,
 * examples with 16 context activations in 8 bits, bands, histogram, token and tag means, weight statistics,
 * label). A {@code .gz} file is the same bytes compressed (how a model folder ships its index).
 */
public final class NeuronIndex {
    static final byte[] MAGIC = "LOUPENI1".getBytes(StandardCharsets.US_ASCII);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What the index was built from. */
    public record Meta(String model, String weightsSha256, String corpus, int top, boolean bos, int layers, int dMlp,
                       int nCtx, long tokens, long scoringTokens, int documents, int scoringDocuments,
                       List<String> classes, List<String> tags) {
        public int neurons() { return layers * dMlp; }
    }

    /**
     * An example: the window, the position in it, the activation there, and the activations at positions
     * [position − 12, position + 3] (NaN outside the window; in steps of the neuron's largest |activation| / 127).
     */
    public record Example(int window, int position, float activation, float[] context) {
        public int contextStart() { return position - Accumulators.CTX_BEFORE; }
    }

    /** Band [lo, hi) of the activation range (the last includes the maximum): how many positions fell in it, and seeded examples. */
    public record Band(double lo, double hi, long count, List<Example> examples) {}

    /** A token's (or a tag's) mean activation over its occurrences. */
    public record Mean(int id, float mean, long count) {}

    public record Neuron(int layer, int index, float max, float min, float mean, float variance, float skew, float kurtosis,
                         float density, List<Example> top, List<Band> bands, int[] histogram, List<Mean> tokens,
                         float[] classMeans, List<Mean> tags, float vocabKurtosis, float vocabSkew, float wIn, float wOut,
                         float cos, float effectMin, float effectMax, int topTokenNeuron, int[] topIds, float[] topValues,
                         int[] bottomIds, float[] bottomValues, int[] effectHistogram, LabelRule rule, float score) {
        /** "prediction", "suppression" or "". */
        public String neuronClass() {
            if (!(vocabKurtosis > WeightStats.PREDICTION_KURTOSIS)) return "";
            return vocabSkew > 0 ? "prediction" : vocabSkew < 0 ? "suppression" : "";
        }

        public boolean mutuallyCongruent() { return topTokenNeuron == index; }
    }

    private final byte[] bytes;
    private final Meta meta;
    private final int[] windowDoc, windowOffset, windowStart, windowLength;
    private final int[] tokens;
    private final int[] recordOffset;

    private NeuronIndex(byte[] bytes) throws IOException {
        this.bytes = bytes;
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        byte[] magic = new byte[MAGIC.length];
        b.get(magic);
        if (!java.util.Arrays.equals(magic, MAGIC)) throw new IOException("not a Loupe neuron index (bad magic)");
        byte[] metaBytes = new byte[b.getInt()];
        b.get(metaBytes);
        meta = JSON.readValue(metaBytes, Meta.class);
        int windows = b.getInt();
        windowDoc = new int[windows];
        windowOffset = new int[windows];
        windowStart = new int[windows];
        windowLength = new int[windows];
        int total = 0;
        for (int w = 0; w < windows; w++) {
            windowDoc[w] = b.getInt();
            windowOffset[w] = b.getInt();
            windowLength[w] = b.getInt();
            windowStart[w] = total;
            total += windowLength[w];
        }
        tokens = new int[total];
        b.asIntBuffer().get(tokens);
        b.position(b.position() + 4 * total);
        int n = b.getInt();
        if (n != meta.neurons()) throw new IOException("index holds " + n + " neurons, its metadata says " + meta.neurons());
        recordOffset = new int[n + 1];
        for (int i = 0; i <= n; i++) recordOffset[i] = b.getInt();
    }

    static NeuronIndex of(byte[] bytes) {
        try {
            return new NeuronIndex(bytes);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads an index file ({@code .gz}: compressed). */
    public static NeuronIndex read(Path file) throws IOException {
        byte[] raw = Files.readAllBytes(file);
        if (file.getFileName().toString().endsWith(".gz")) {
            try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(raw), 1 << 16)) {
                raw = in.readAllBytes();
            }
        }
        try {
            return new NeuronIndex(raw);
        } catch (RuntimeException e) {
            throw new IOException(file + " is not a readable neuron index: " + e.getMessage(), e);
        }
    }

    /** Only the metadata of an index file (to check which weights it belongs to without decoding it). */
    public static Meta readMeta(Path file) throws IOException { return read(file).meta(); }

    public Meta meta() { return meta; }
    public byte[] bytes() { return bytes; }
    public int windows() { return windowDoc.length; }
    /** The bytes of the per-neuron records (the rest is the metadata, the windows' tokens and the record offsets). */
    public long recordBytes() { return recordOffset[recordOffset.length - 1] - recordOffset[0]; }
    /** How many window tokens the index stores (4 bytes each). */
    public int windowTokenCount() { return tokens.length; }
    public int windowDocument(int w) { return windowDoc[w]; }
    public int windowOffset(int w) { return windowOffset[w]; }

    /** The tokens the model ran for window w (BOS first when the index was built with BOS). */
    public int[] windowTokens(int w) {
        return java.util.Arrays.copyOfRange(tokens, windowStart[w], windowStart[w] + windowLength[w]);
    }

    public int windowToken(int w, int pos) { return tokens[windowStart[w] + pos]; }
    public int windowLength(int w) { return windowLength[w]; }

    /** The record of neuron n of layer l; range errors name what is wrong. */
    public Neuron neuron(int layer, int n) {
        if (layer < 0 || layer >= meta.layers()) throw new IndexOutOfBoundsException("layer " + layer + " is out of range [0, " + meta.layers() + ")");
        if (n < 0 || n >= meta.dMlp()) throw new IndexOutOfBoundsException("neuron " + n + " is out of range [0, " + meta.dMlp() + ")");
        int g = layer * meta.dMlp() + n;
        ByteBuffer b = ByteBuffer.wrap(bytes, recordOffset[g], recordOffset[g + 1] - recordOffset[g]).order(ByteOrder.LITTLE_ENDIAN);
        float max = b.getFloat(), min = b.getFloat(), mean = b.getFloat(), var = b.getFloat(), skew = b.getFloat(),
                kurt = b.getFloat(), density = b.getFloat(), scale = b.getFloat();
        List<Example> top = examples(b, scale);
        List<Band> bands = new ArrayList<>();
        for (int i = 0; i < Accumulators.BANDS; i++) {
            long count = b.getLong();
            bands.add(new Band(max * i / (double) Accumulators.BANDS, max * (i + 1) / (double) Accumulators.BANDS, count, examples(b, scale)));
        }
        int[] hist = varints(b, WeightStats.HIST_BINS);
        List<Mean> toks = means(b);
        float[] classMeans = floats(b, b.getInt());
        List<Mean> tags = means(b);
        float vk = b.getFloat(), vs = b.getFloat(), wi = b.getFloat(), wo = b.getFloat(), cos = b.getFloat(),
                emin = b.getFloat(), emax = b.getFloat();
        int ttn = b.getInt();
        int[] topIds = new int[WeightStats.LOGITS], bottomIds = new int[WeightStats.LOGITS];
        float[] topValues = new float[WeightStats.LOGITS], bottomValues = new float[WeightStats.LOGITS];
        for (int i = 0; i < WeightStats.LOGITS; i++) { topIds[i] = b.getInt(); topValues[i] = b.getFloat(); }
        for (int i = 0; i < WeightStats.LOGITS; i++) { bottomIds[i] = b.getInt(); bottomValues[i] = b.getFloat(); }
        int[] effHist = varints(b, WeightStats.HIST_BINS);
        int[] ruleTokens = ints(b, b.getInt());
        int ruleClass = b.getInt();
        float share = b.getFloat(), score = b.getFloat();
        return new Neuron(layer, n, max, min, mean, var, skew, kurt, density, top, bands, hist, toks, classMeans, tags,
                vk, vs, wi, wo, cos, emin, emax, ttn, topIds, topValues, bottomIds, bottomValues, effHist,
                new LabelRule(ruleTokens, ruleClass, share), score);
    }

    private static List<Example> examples(ByteBuffer b, float scale) {
        int n = b.getInt();
        List<Example> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int w = b.getInt(), p = Short.toUnsignedInt(b.getShort());
            float a = b.getFloat();
            float[] ctx = new float[Accumulators.CTX];
            for (int k = 0; k < ctx.length; k++) {
                byte q = b.get();
                ctx[k] = q == -128 ? Float.NaN : q * scale;
            }
            ctx[Accumulators.CTX_BEFORE] = a; // the example's own activation, in full
            out.add(new Example(w, p, a, ctx));
        }
        return out;
    }

    private static int[] varints(ByteBuffer b, int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            int v = 0, shift = 0;
            byte x;
            do {
                x = b.get();
                v |= (x & 0x7F) << shift;
                shift += 7;
            } while ((x & 0x80) != 0);
            a[i] = v;
        }
        return a;
    }

    private static List<Mean> means(ByteBuffer b) {
        int n = b.getInt();
        List<Mean> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(new Mean(b.getInt(), b.getFloat(), b.getInt()));
        return out;
    }

    private static int[] ints(ByteBuffer b, int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = b.getInt();
        return a;
    }

    private static float[] floats(ByteBuffer b, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = b.getFloat();
        return a;
    }

    static byte[] metaJson(Meta m) {
        try {
            return JSON.writeValueAsBytes(m);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
