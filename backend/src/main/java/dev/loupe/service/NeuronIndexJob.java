package dev.loupe.service;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loupe.jobs.JobKind;
import dev.loupe.jobs.Progress;
import dev.loupe.neurons.CorpusSources;
import dev.loupe.neurons.IndexCorpus;
import dev.loupe.neurons.IndexFiles;
import dev.loupe.neurons.NeuronIndexer;
import jakarta.enterprise.context.ApplicationScoped;

import java.nio.file.Path;

/**
 * Builds a model's neuron index as a job ({@code neurons-index}, params {@code {"model", "corpus"}}): the same
 * indexer as {@code ./loupe neurons index}, writing to the data directory with its checkpoint beside it, so a job
 * stopped by a restart continues where it was. Every batch passes the compute scheduler on its own (the accumulators,
 * {@link #expectedBytes}, are held outside it for the whole run).
 */
@ApplicationScoped
public class NeuronIndexJob implements JobKind {
    public static final String NAME = "neurons-index";

    private final ModelEngines engines;
    private final NeuronService neurons;
    private final ComputeScheduler scheduler;

    public NeuronIndexJob(ModelEngines engines, NeuronService neurons, ComputeScheduler scheduler) {
        this.engines = engines;
        this.neurons = neurons;
        this.scheduler = scheduler;
    }

    @Override public String name() { return NAME; }

    /** Each batch takes a compute slot of its own, so the explorer and neuron pages stay answered during a long index. */
    @Override public boolean schedulesItself() { return true; }

    /** The index is a file in the data directory. */
    @Override public boolean writes() { return true; }

    @Override
    public void check(JsonNode params) {
        String model = params.path("model").asText("");
        engines.entry(model);
        String corpus = params.path("corpus").asText("brown-heldout");
        if (!CorpusSources.NAMED.contains(corpus))
            throw new IllegalArgumentException("unknown corpus '" + corpus + "'; choose one of " + String.join(", ", CorpusSources.NAMED));
        if (engines.entry(model).folder().config().attnOnly())
            throw new IllegalArgumentException("model '" + model + "' is attention-only: it has no MLP neurons to index");
    }

    /** The accumulators: per neuron the tracked-token and tag sums dominate (at most 2^26 floats), plus a batch of activations. */
    @Override
    public long expectedBytes(JsonNode params) {
        var c = engines.entry(params.path("model").asText()).folder().config();
        long neurons = (long) c.nLayers() * c.dMlp();
        return 4L * (1L << 26) + neurons * 600L * 4 + 8L * c.nCtx() * neurons * 4;
    }

    @Override
    public String run(JsonNode params, Progress progress) throws Exception {
        String model = params.path("model").asText();
        String corpusName = params.path("corpus").asText("brown-heldout");
        ModelEngines.Loaded loaded = engines.get(model);
        progress.report(0, "reading the corpus " + corpusName);
        IndexCorpus corpus = CorpusSources.named(corpusName, neurons.dataDir().resolve("corpora"));
        var m = loaded.model();
        String sha = neurons.sha256(engines.entry(model));
        NeuronIndexer.Options options = NeuronIndexer.Options.defaults();
        long batchBytes = Explorer.forwardBytes(m.config(), options.batch(), m.config().nCtx(), 0);
        NeuronIndexer indexer = new NeuronIndexer(loaded.subject().engine(), m.weights(), model, sha, m.tokenizer().bosId(), corpus, options)
                .gate(batch -> scheduler.runWhenFree(batchBytes, progress::cancelled, () -> {
                    batch.run();
                    return null;
                }));
        Path out = IndexFiles.built(neurons.dataDir(), model);
        indexer.run(out, out.resolveSibling(out.getFileName() + ".checkpoint"), progress);
        neurons.reload(model);
        return null;
    }
}
