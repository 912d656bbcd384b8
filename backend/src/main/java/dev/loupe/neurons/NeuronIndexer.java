package dev.loupe.neurons;

import dev.loupe.hooks.HookPoints;
import dev.loupe.jobs.Cancelled;
import dev.loupe.jobs.Progress;
import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.model.Tensor;
import dev.loupe.runtime.Engine;
import dev.loupe.runtime.RunRequest;
import dev.loupe.runtime.RunResult;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;

/**
 * Builds a neuron index: runs the corpus through the model, stopping after the last MLP, and gathers per neuron of
 * every layer what DESIGN §9 lists. Two passes over the index documents (the histogram and the activation bands
 * need each neuron's range first), then one over the held-out documents to score the labels. BOS positions are
 * run (the model expects them) but left out of every statistic.
 *
 * <p>Resumable: after every batch that ends a {@code checkpointSeconds} interval (and when cancelled) the whole
 * state is written atomically to the checkpoint file; a run with the same model, corpus and options continues from
 * it, and because batches are fixed and every sum is taken in the same order, the result is byte-identical to an
 * uninterrupted run.
 */
public final class NeuronIndexer {

    /**
     * @param top               top examples per neuron
     * @param bandExamples      seeded examples per activation band
     * @param bos               prepend BOS to every window
     * @param seed              seed of the band examples
     * @param batch             windows per forward pass
     * @param minTokenCount     a vocabulary token's mean activation is kept when it occurs this often
     * @param checkpointSeconds seconds between checkpoints
     */
    public record Options(int top, int bandExamples, boolean bos, long seed, int batch, int minTokenCount, double checkpointSeconds) {
        public static Options defaults() { return new Options(20, 3, true, 1234, 8, 3, 15); }
        public Options withTop(int k) { return new Options(k, bandExamples, bos, seed, batch, minTokenCount, checkpointSeconds); }
        public Options withBos(boolean b) { return new Options(top, bandExamples, b, seed, batch, minTokenCount, checkpointSeconds); }
        public Options withCheckpointSeconds(double s) { return new Options(top, bandExamples, bos, seed, batch, minTokenCount, s); }
        public Options withBatch(int b) { return new Options(top, bandExamples, bos, seed, b, minTokenCount, checkpointSeconds); }
        public Options withMinTokenCount(int c) { return new Options(top, bandExamples, bos, seed, batch, c, checkpointSeconds); }
        String key() { return top + "/" + bandExamples + "/" + bos + "/" + seed + "/" + batch + "/" + minTokenCount; }
    }

    /**
     * Admits each batch (its forward pass and accumulation). The app passes its compute scheduler, so a long index
     * takes a compute slot per batch and interactive requests get in between; it may throw {@link Cancelled} while
     * the batch waits.
     */
    public interface BatchGate {
        void run(Runnable batch);

        BatchGate DIRECT = Runnable::run;
    }

    /** Token means are kept for at most this many floats in all (tracked tokens × neurons), to bound memory. */
    static final long TOKEN_MEAN_BUDGET = 1L << 26;
    static final int MAX_TRACKED_TOKENS = 8192;

    private final Engine engine;
    private final GptWeights weights;
    private final GptConfig config;
    private final IndexCorpus corpus;
    private final Options options;
    private final String modelName, weightsSha256;
    private final int layers, dMlp, neurons;
    private final List<IndexCorpus.Window> indexWindows, scoringWindows;
    final int[] tracked, tokenSlot;
    final List<String> classes;
    final int[] tagClassId;
    private BatchGate gate = BatchGate.DIRECT;

    public NeuronIndexer(Engine engine, GptWeights weights, String modelName, String weightsSha256, int bosId,
                         IndexCorpus corpus, Options options) {
        this.engine = engine;
        this.weights = weights;
        this.config = weights.config();
        if (config.attnOnly()) throw new IllegalArgumentException("model '" + modelName + "' is attention-only: it has no MLP neurons to index");
        if (options.bos() && bosId < 0) throw new IllegalArgumentException("the tokenizer has no BOS token; index with --no-bos");
        this.corpus = corpus;
        this.options = options;
        this.modelName = modelName;
        this.weightsSha256 = weightsSha256;
        this.layers = config.nLayers();
        this.dMlp = config.dMlp();
        this.neurons = layers * dMlp;
        int bos = options.bos() ? bosId : -1;
        this.indexWindows = IndexCorpus.windows(corpus.index(), config.nCtx(), bos);
        this.scoringWindows = IndexCorpus.windows(corpus.scoring(), config.nCtx(), bos);
        for (var list : List.of(corpus.index(), corpus.scoring()))
            for (IndexCorpus.Doc d : list)
                for (int t : d.tokens())
                    if (t < 0 || t >= config.dVocab())
                        throw new IllegalArgumentException("document " + d.id() + ": token id " + t + " is outside the vocabulary [0, " + config.dVocab() + ")");
        // the tokens whose means are kept: the most frequent, ties by id
        long[] counts = new long[config.dVocab()];
        for (IndexCorpus.Window w : indexWindows) for (int p = w.firstCounted(); p < w.tokens().length; p++) counts[w.tokens()[p]]++;
        int cap = (int) Math.min(MAX_TRACKED_TOKENS, Math.max(1, TOKEN_MEAN_BUDGET / neurons));
        List<Integer> frequent = new ArrayList<>();
        for (int t = 0; t < counts.length; t++) if (counts[t] >= options.minTokenCount()) frequent.add(t);
        frequent.sort((a, b) -> counts[a] != counts[b] ? Long.compare(counts[b], counts[a]) : Integer.compare(a, b));
        tracked = frequent.stream().limit(cap).mapToInt(Integer::intValue).sorted().toArray();
        tokenSlot = new int[config.dVocab()];
        Arrays.fill(tokenSlot, -1);
        for (int i = 0; i < tracked.length; i++) tokenSlot[tracked[i]] = i;
        if (corpus.tagged()) {
            List<String> cls = new ArrayList<>();
            cls.add("");
            TreeSet<String> distinct = new TreeSet<>(corpus.tagClass());
            distinct.remove("");
            cls.addAll(distinct);
            classes = List.copyOf(cls);
            tagClassId = new int[corpus.tagClass().size()];
            for (int i = 0; i < tagClassId.length; i++) tagClassId[i] = classes.indexOf(corpus.tagClass().get(i));
        } else {
            classes = List.of();
            tagClassId = new int[]{0};
        }
    }

    /** Runs every batch through {@code gate} (by default at once, in the calling thread). */
    public NeuronIndexer gate(BatchGate gate) {
        this.gate = gate;
        return this;
    }

    /** Everything that decides the result; a checkpoint is resumed only by a run with the same key. */
    String runKey() {
        StringBuilder sb = new StringBuilder(modelName).append('|').append(weightsSha256).append('|').append(corpus.name())
                .append('|').append(options.key()).append('|').append(indexWindows.size()).append('|').append(scoringWindows.size());
        long h = 17;
        for (var list : List.of(indexWindows, scoringWindows))
            for (IndexCorpus.Window w : list) for (int t : w.tokens()) h = h * 1_000_003L + t;
        return sb.append('|').append(h).toString();
    }

    public int indexWindowCount() { return indexWindows.size(); }

    /**
     * Runs (or resumes) the index and writes it to {@code out} atomically (a temporary file moved into place), then
     * deletes the checkpoint. {@code checkpoint} may be null: no resume, no checkpoints.
     */
    public NeuronIndex run(Path out, Path checkpoint, Progress progress) throws IOException {
        int tags = corpus.tagged() ? corpus.tagNames().size() : 0;
        Accumulators acc = new Accumulators(neurons, options.top(), options.bandExamples(), tracked.length, tags);
        String key = runKey();
        if (checkpoint != null && Files.isRegularFile(checkpoint)) {
            try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(checkpoint), 1 << 20))) {
                if (in.readUTF().equals(key)) {
                    acc.read(in);
                    progress.report(done(acc), "resumed from the checkpoint");
                }
                else acc = new Accumulators(neurons, options.top(), options.bandExamples(), tracked.length, tags);
            }
        }
        LabelRule[] rules = null;
        long lastSave = System.nanoTime();
        List<List<IndexCorpus.Window>> phases = List.of(indexWindows, indexWindows, scoringWindows);
        while (acc.phase < 3) {
            if (acc.phase >= 1 && rules == null) rules = deriveRules(acc);
            List<IndexCorpus.Window> ws0 = phases.get(acc.phase);
            int batches = (ws0.size() + options.batch() - 1) / options.batch();
            while (acc.nextBatch < batches) {
                if (progress.cancelled()) {
                    save(checkpoint, key, acc);
                    throw new Cancelled();
                }
                int b = acc.nextBatch;
                Accumulators a = acc;
                LabelRule[] r = rules;
                try {
                    gate.run(() -> runBatch(a, ws0, b * options.batch(), Math.min(ws0.size(), (b + 1) * options.batch()), r));
                } catch (Cancelled c) { // cancelled while the batch waited for the gate: nothing of it was counted
                    save(checkpoint, key, acc);
                    throw c;
                }
                acc.nextBatch++;
                progress.report(done(acc), String.format(java.util.Locale.ROOT, "%s: batch %d of %d",
                        acc.phase == 0 ? "pass 1 (top examples, moments)" : acc.phase == 1 ? "pass 2 (histograms, bands)" : "scoring labels on held-out text",
                        acc.nextBatch, batches));
                if (checkpoint != null && (System.nanoTime() - lastSave) / 1e9 >= options.checkpointSeconds()) {
                    save(checkpoint, key, acc);
                    lastSave = System.nanoTime();
                }
            }
            acc.phase++;
            acc.nextBatch = 0;
        }
        if (rules == null) rules = deriveRules(acc);
        progress.report(1, "weight statistics");
        WeightStats ws = WeightStats.compute(weights);
        NeuronIndex.Meta meta = new NeuronIndex.Meta(modelName, weightsSha256, corpus.name(), options.top(), options.bos(),
                layers, dMlp, config.nCtx(), acc.counted, acc.scored, corpus.index().size(), corpus.scoring().size(), classes,
                corpus.tagged() ? corpus.tagNames() : List.of());
        NeuronIndex index = IndexWriter.build(meta, indexWindows, acc, tracked, tagClassId, rules, ws);
        IndexWriter.writeAtomically(index, out);
        if (checkpoint != null) Files.deleteIfExists(checkpoint);
        return index;
    }

    private double done(Accumulators acc) {
        int b = options.batch();
        long i = (indexWindows.size() + b - 1) / b, s = (scoringWindows.size() + b - 1) / b;
        long total = 2 * i + s, at = acc.phase == 0 ? acc.nextBatch : acc.phase == 1 ? i + acc.nextBatch : acc.phase == 2 ? 2 * i + acc.nextBatch : total;
        return total == 0 ? 1 : Math.min(1, at / (double) total);
    }

    private static void save(Path checkpoint, String key, Accumulators acc) throws IOException {
        if (checkpoint == null) return;
        Files.createDirectories(checkpoint.toAbsolutePath().getParent());
        Path tmp = checkpoint.resolveSibling(checkpoint.getFileName() + ".tmp");
        try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20))) {
            out.writeUTF(key);
            acc.write(out);
        }
        Files.move(tmp, checkpoint, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Each neuron's label rule from its top examples (pass 1 complete). */
    private LabelRule[] deriveRules(Accumulators acc) {
        LabelRule[] rules = new LabelRule[neurons];
        for (int g = 0; g < neurons; g++) {
            int[] slots = acc.topOrder(g);
            int[] toks = new int[slots.length];
            int[] cls = corpus.tagged() ? new int[slots.length] : null;
            for (int i = 0; i < slots.length; i++) {
                IndexCorpus.Window w = indexWindows.get(acc.topWin[slots[i]]);
                toks[i] = w.tokens()[acc.topPos[slots[i]]];
                if (cls != null) cls[i] = tagClassId[w.tags()[acc.topPos[slots[i]]]];
            }
            rules[g] = LabelRule.derive(toks, cls);
        }
        return rules;
    }

    private void runBatch(Accumulators acc, List<IndexCorpus.Window> windows, int from, int to, LabelRule[] rules) {
        List<int[]> prompts = new ArrayList<>();
        for (int i = from; i < to; i++) prompts.add(windows.get(i).tokens());
        RunRequest req = RunRequest.of(prompts).cache(n -> n.endsWith(".mlp.hook_post")).stopAfter(layers - 1).withoutLogits();
        try (RunResult r = engine.run(req)) {
            for (int l = 0; l < layers; l++) {
                Tensor t = r.get(HookPoints.name(l, "mlp.hook_post"));
                float[] a = t.data();
                int len0 = t.dim(1);
                for (int row = 0; row < to - from; row++) {
                    int win = from + row;
                    IndexCorpus.Window w = windows.get(win);
                    int rowOff = row * len0 * dMlp;
                    for (int pos = w.firstCounted(); pos < w.tokens().length; pos++) {
                        switch (acc.phase) {
                            case 0 -> pass1(acc, l, w, win, pos, a, rowOff);
                            case 1 -> pass2(acc, l, w, win, pos, a, rowOff);
                            default -> score(acc, l, w, pos, a, rowOff, rules);
                        }
                    }
                }
            }
        }
    }

    private void pass1(Accumulators acc, int l, IndexCorpus.Window w, int win, int pos, float[] a, int rowOff) {
        int tok = w.tokens()[pos], tag = w.tags()[pos], slot = tokenSlot[tok];
        if (l == 0) {
            acc.counted++;
            if (slot >= 0) acc.tokenCount[slot]++;
            if (acc.tags > 0) acc.tagCount[tag]++;
        }
        int off = rowOff + pos * dMlp, g0 = l * dMlp, len = w.tokens().length;
        long seq = (long) win * config.nCtx() + pos;
        int tokBase = slot * neurons, tagBase = tag * neurons;
        for (int n = 0; n < dMlp; n++) {
            int g = g0 + n;
            float x = a[off + n];
            double xd = x, x2 = xd * xd;
            acc.sum[g] += xd;
            acc.sq[g] += x2;
            acc.cube[g] += x2 * xd;
            acc.quart[g] += x2 * x2;
            if (x > acc.max[g]) acc.max[g] = x;
            if (x < acc.min[g]) acc.min[g] = x;
            if (x > 0) acc.positive[g]++;
            if (x > acc.topThreshold[g]) acc.offerTop(g, x, win, pos, seq, a, rowOff, len, dMlp, n);
            if (slot >= 0) acc.tokenSum[tokBase + g] += x;
            if (acc.tags > 0) acc.tagSum[tagBase + g] += x;
        }
    }

    private void pass2(Accumulators acc, int l, IndexCorpus.Window w, int win, int pos, float[] a, int rowOff) {
        int off = rowOff + pos * dMlp, g0 = l * dMlp, len = w.tokens().length;
        long seq = (long) win * config.nCtx() + pos;
        for (int n = 0; n < dMlp; n++) {
            int g = g0 + n;
            float x = a[off + n];
            float lo = acc.min[g], hi = acc.max[g];
            acc.hist[g * WeightStats.HIST_BINS + Moments.bin(x, lo, hi, WeightStats.HIST_BINS)]++;
            if (hi > 0 && x >= 0) {
                int b = Math.min(Accumulators.BANDS - 1, (int) Math.floor(x / (double) hi * Accumulators.BANDS));
                acc.bandCount[g * Accumulators.BANDS + b]++;
                long key = bandKey(options.seed(), g, seq);
                acc.offerBand(g, b, x, win, pos, key, a, rowOff, len, dMlp, n);
            }
        }
    }

    /** The seeded key of an example in pass 2: the smallest keys of a band are its examples. */
    static long bandKey(long seed, int g, long seq) {
        return Moments.mix(seed * 0x9E3779B97F4A7C15L + g * 0xD1B54A32D192ED03L + seq);
    }

    private void score(Accumulators acc, int l, IndexCorpus.Window w, int pos, float[] a, int rowOff, LabelRule[] rules) {
        if (l == 0) acc.scored++;
        int tok = w.tokens()[pos], cls = tagClassId[w.tags()[pos]];
        int off = rowOff + pos * dMlp, g0 = l * dMlp;
        for (int n = 0; n < dMlp; n++) {
            int g = g0 + n;
            double x = a[off + n];
            acc.sx[g] += x;
            acc.sxx[g] += x * x;
            if (rules[g].fires(tok, cls)) {
                acc.sxi[g] += x;
                acc.si[g]++;
            }
        }
    }

    /** For tests: the windows of the index documents. */
    List<IndexCorpus.Window> indexWindows() { return indexWindows; }
}
