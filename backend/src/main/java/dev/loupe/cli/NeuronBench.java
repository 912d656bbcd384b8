package dev.loupe.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.jobs.Progress;
import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.model.LoadedModel;
import dev.loupe.model.Tensor;
import dev.loupe.neurons.IndexCorpus;
import dev.loupe.neurons.NeuronIndex;
import dev.loupe.neurons.NeuronIndexer;
import dev.loupe.neurons.NeuronPage;
import dev.loupe.runtime.Engine;
import dev.loupe.runtime.RunRequest;
import dev.loupe.runtime.RunResult;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;

/**
 * Neuron indexing against PyTorch doing Neuroscope's scan (tools/reference/bench_neurons.py: forward to the last MLP,
 * a running top-k per neuron) on the same windows, on the default model and on random GPT-2-small-shaped weights:
 * tokens/s of Loupe's corpus passes (pass 1, pass 2, held-out scoring), of pass 1 alone, and on the default model of the
 * whole index, whose top-k is checked against the scan's; then the page JSON's time from the default model's shipped
 * index, and index sizes with the projection to GPT-2 small over 10 M tokens.
 */
@Command(name = "neurons", description = "Loupe's neuron index vs PyTorch's Neuroscope scan (tokens/s); page JSON time; index sizes.")
final class NeuronBench implements Callable<Integer> {
    @Option(names = "--docs", defaultValue = "40", description = "documents per model (every tenth is held out for label scores)") int docs;
    @Option(names = "--doc-tokens", defaultValue = "255", description = "tokens per document (one window each, BOS prepended)") int docTokens;
    @Option(names = "--small-docs", defaultValue = "20", description = "documents for the GPT-2-small-shaped model") int smallDocs;
    @Option(names = "--model", defaultValue = "brown-6l") String model;
    @Option(names = "--no-small", description = "skip the GPT-2-small-shaped model") boolean noSmall;
    @Option(names = "--pages", defaultValue = "2000", description = "page JSONs timed") int pages;
    @Option(names = "--reference", defaultValue = "tools/reference/bench_neurons.py") Path reference;
    @Mixin TorchReference anchor;
    @Mixin ModelsDir models;

    static final int TOP = 20, BATCH = 8;
    static final long PROJECTED_TOKENS = 10_000_000L;
    static final int GPT2_SMALL_NEURONS = 36_864;

    /** One model's times: Loupe's corpus passes (pass 1, pass 2, scoring), its pass 1, its whole index (NaN: not run), PyTorch's scan. */
    record Result(String name, long tokens, double corpusS, double pass1S, double indexS, double torchS, double topErr) {}

    @Override public Integer call() throws Exception {
        TorchReference.check(reference);
        System.out.printf(Locale.ROOT, "neuron index vs PyTorch scan; %d threads per engine; load %s (a loaded machine inflates every time)%n",
                Runtime.getRuntime().availableProcessors(), CircuitBench.load());
        List<Result> results = new ArrayList<>();
        LoadedModel m = DumpCommand.openModel(models.resolve(), model);
        results.add(run(model, m.weights(), docs, Math.min(docTokens, m.config().nCtx() - 1), m.tokenizer().bosId(), true));
        if (!noSmall) {
            GptConfig small = GptConfig.small();
            results.add(run("GPT-2 small shape (random)", GptWeights.random(small, 0, false), smallDocs, Math.min(docTokens, small.nCtx() - 1),
                    small.dVocab() - 1, false));
        }

        System.out.printf(Locale.ROOT, "%n%-28s %8s %13s %13s %13s %12s %9s %9s%n", "model", "tokens", "corpus tok/s", "pass-1 tok/s",
                "index tok/s", "torch tok/s", "corpus x", "pass-1 x");
        for (Result r : results)
            System.out.printf(Locale.ROOT, "%-28s %,8d %13.0f %13.0f %13s %12.0f %8.2fx %8.2fx%n", r.name(), r.tokens(), r.tokens() / r.corpusS(),
                    r.tokens() / r.pass1S(), Double.isNaN(r.indexS()) ? "–" : String.format(Locale.ROOT, "%.0f", r.tokens() / r.indexS()),
                    r.tokens() / r.torchS(), r.torchS() / r.corpusS(), r.torchS() / r.pass1S());
        System.out.println("corpus: Loupe's passes over the corpus (pass 1: top-k with context, moments, token means; pass 2: histogram and bands;"
                + " held-out label scoring); index: also the weight statistics (W_out·W_U over the vocabulary, a fixed cost per model) and the file;"
                + " torch: Neuroscope's scan, forward to the last MLP and a running top-k per neuron; x: torch time / Loupe time");
        for (Result r : results)
            if (!Double.isNaN(r.topErr())) System.out.printf(Locale.ROOT, "agreement on %s: max |top-%d activation difference| %.2e%n", r.name(), TOP, r.topErr());

        double perNeuron = pageTimes();
        if (perNeuron > 0) sizes(perNeuron);
        double torch = results.stream().mapToDouble(Result::torchS).sum(), corpus = results.stream().mapToDouble(Result::corpusS).sum(),
                pass1 = results.stream().mapToDouble(Result::pass1S).sum();
        System.out.printf(Locale.ROOT, "the scan alone (pass 1) vs torch: %.2fx%n", torch / pass1);
        System.out.printf(Locale.ROOT, "neurons-bench: speedup_vs_torch=%.2f%n", torch / corpus);
        return 0;
    }

    /** Thrown from the progress report that announces the weight statistics, to stop a run after its corpus passes. */
    private static final class CorpusDone extends RuntimeException {
        CorpusDone() { super(null, null, false, false); }
    }

    /**
     * Indexes random documents and runs the PyTorch scan over the same windows. {@code whole}: the index is finished
     * (weight statistics and the file) and its top-k compared with the scan's; otherwise the run stops after the corpus
     * passes (a GPT-2-sized vocabulary makes the weight statistics minutes of fixed, corpus-independent work).
     */
    private Result run(String name, GptWeights weights, int docCount, int len, int bos, boolean whole) throws Exception {
        GptConfig c = weights.config();
        Random rnd = new Random(13);
        List<IndexCorpus.Doc> list = new ArrayList<>();
        for (int d = 0; d < docCount; d++) {
            int[] t = new int[len];
            for (int i = 0; i < len; i++) t[i] = rnd.nextInt(c.dVocab());
            list.add(new IndexCorpus.Doc("d" + d, t, null));
        }
        IndexCorpus corpus = IndexCorpus.everyTenthHeldOut("bench", list, null, null);
        try (Engine engine = Engine.create(weights)) {
            // warm-up: the session for a full batch is compiled before timing
            List<int[]> warm = new ArrayList<>();
            for (int i = 0; i < BATCH; i++) warm.add(withBos(list.get(i % list.size()).tokens(), bos));
            try (RunResult r = engine.run(RunRequest.of(warm).cache(h -> h.endsWith(".mlp.hook_post")).stopAfter(c.nLayers() - 1).withoutLogits())) {
                r.get("blocks.0.mlp.hook_post");
            }
            NeuronIndexer indexer = new NeuronIndexer(engine, weights, name, "bench", bos, corpus,
                    NeuronIndexer.Options.defaults().withTop(TOP).withBatch(BATCH));
            double[] at = {0, 0}; // pass 1's end (its last batch's report), the corpus passes' end
            long t0 = System.nanoTime();
            Progress phases = new Progress() {
                @Override public void report(double fraction, String message) {
                    double now = (System.nanoTime() - t0) / 1e9;
                    if (message.startsWith("pass 1")) at[0] = now;
                    if (message.equals("weight statistics")) {
                        at[1] = now;
                        if (!whole) throw new CorpusDone();
                    }
                }
                @Override public boolean cancelled() { return false; }
            };
            Path out = Files.createTempFile("loupe-neurons-bench-", ".idx");
            NeuronIndex idx = null;
            try {
                idx = indexer.run(out, null, phases);
            } catch (CorpusDone done) {
                // the corpus passes are timed; no index is written
            } finally {
                Files.deleteIfExists(out);
            }
            double indexS = whole ? (System.nanoTime() - t0) / 1e9 : Double.NaN;
            int windows = indexer.indexWindowCount();
            long tokens = (long) windows * len;
            float[] ids = new float[windows * (len + 1)];
            for (int w = 0; w < windows; w++) {
                int[] win = withBos(corpus.index().get(w).tokens(), bos);
                for (int p = 0; p <= len; p++) ids[w * (len + 1) + p] = win[p];
            }
            Torch t = scan(weights, ids, windows, len + 1);
            double err = Double.NaN;
            if (idx != null) {
                if (idx.meta().tokens() != tokens) throw new IllegalStateException("the index counted " + idx.meta().tokens() + " tokens, the bench " + tokens);
                err = 0;
                for (int g = 0; g < idx.meta().neurons(); g++) {
                    var top = idx.neuron(g / c.dMlp(), g % c.dMlp()).top();
                    for (int i = 0; i < top.size(); i++) err = Math.max(err, Math.abs(top.get(i).activation() - t.top()[i * idx.meta().neurons() + g]));
                }
            }
            System.out.printf(Locale.ROOT, "%s: %,d tokens in %d windows; pass 1 %.2f s, corpus passes %.2f s, whole index %s; torch scan %.2f s%n",
                    name, tokens, windows, at[0], at[1], whole ? String.format(Locale.ROOT, "%.2f s", indexS) : "not timed", t.seconds());
            return new Result(name, tokens, at[1], at[0], indexS, t.seconds(), err);
        }
    }

    static int[] withBos(int[] doc, int bos) {
        int[] w = new int[doc.length + 1];
        w[0] = bos;
        System.arraycopy(doc, 0, w, 1, doc.length);
        return w;
    }

    record Torch(double seconds, float[] top) {}

    /** The PyTorch scan over the same windows ({@code w} windows of {@code len} tokens, BOS first). */
    private Torch scan(GptWeights weights, float[] ids, int w, int len) throws Exception {
        Map<String, Tensor> t = new LinkedHashMap<>(weights.tensors());
        t.put("c.windows", new Tensor(ids, w, len));
        return anchor.onTensors(reference, Runtime.getRuntime().availableProcessors(), t,
                Map.of("config", weights.config().toJson().toString(), "top", String.valueOf(TOP), "batch", String.valueOf(BATCH)),
                st -> new Torch(Double.parseDouble(st.metadata().get("scan_s")), st.read("c.top").data()));
    }

    /** The page JSON of random neurons from the default model's shipped index, warm, as the REST resource serialises it. */
    private double pageTimes() throws Exception {
        Path file = models.resolve().resolve(model).resolve("neurons.idx.gz");
        if (!Files.isRegularFile(file)) {
            System.out.println("page JSON: " + file + " not found, skipped");
            return 0;
        }
        NeuronIndex idx = NeuronIndex.read(file);
        NeuronPage page = new NeuronPage(idx, DumpCommand.openModel(models.resolve(), model).tokenizer());
        ObjectMapper json = new ObjectMapper();
        Random rnd = new Random(5);
        int layers = idx.meta().layers(), dMlp = idx.meta().dMlp();
        for (int i = 0; i < 500; i++) json.writeValueAsBytes(page.json(rnd.nextInt(layers), rnd.nextInt(dMlp)));
        double[] ms = new double[pages];
        long bytes = 0;
        for (int i = 0; i < pages; i++) {
            long t = System.nanoTime();
            bytes += json.writeValueAsBytes(page.json(rnd.nextInt(layers), rnd.nextInt(dMlp))).length;
            ms[i] = (System.nanoTime() - t) / 1e6;
        }
        Arrays.sort(ms);
        System.out.printf(Locale.ROOT, "page JSON (%s, %d random neurons, warm, record decode + JSON bytes, no HTTP): p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, "
                + "max %.2f ms; %.1f kB per page%n", model, pages, ms[pages / 2], ms[(int) (pages * 0.95)], ms[(int) (pages * 0.99)], ms[pages - 1],
                bytes / 1024.0 / pages);
        long unpacked = idx.bytes().length, packed = Files.size(file);
        System.out.printf(Locale.ROOT, "index of %s: %.2f MB unpacked, %.2f MB gzipped (shipped); %d neurons, %.0f bytes of record per neuron, %,d window tokens"
                        + " (%.2f MB)%n", model, unpacked / 1e6, packed / 1e6, idx.meta().neurons(), idx.recordBytes() / (double) idx.meta().neurons(),
                idx.windowTokenCount(), 4.0 * idx.windowTokenCount() / 1e6);
        return idx.recordBytes() / (double) idx.meta().neurons();
    }

    /** GPT-2 small over 10 M tokens: records of the default index's size per neuron (real text) plus 4 bytes per window token. */
    private void sizes(double perNeuron) {
        double windows = Math.ceil(PROJECTED_TOKENS / 1023.0);
        double records = perNeuron * GPT2_SMALL_NEURONS, tokens = 4.0 * (PROJECTED_TOKENS + windows), table = 12 * windows;
        System.out.printf(Locale.ROOT, "projection for GPT-2 small (%,d neurons) over %,d tokens: %.1f MB of records (%.0f bytes per neuron, as %s's index)"
                        + " + %.1f MB of window tokens and table = %.1f MB unpacked; the records do not grow with the corpus, the windows do%n",
                GPT2_SMALL_NEURONS, PROJECTED_TOKENS, records / 1e6, perNeuron, model, (tokens + table) / 1e6, (records + tokens + table) / 1e6);
    }
}
