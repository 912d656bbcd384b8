package dev.loupe.data.baseline;

import dev.loupe.data.AlignedTokenizer;
import dev.loupe.data.DatasetSplit;
import dev.loupe.data.TokenDataset;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The n-gram baselines of a dataset, in nats per held-out token. Hyperparameters (add-k's k, Jelinek-Mercer's λ,
 * Kneser-Ney's discounts) are chosen on a validation slice of the training documents (5 %, stratified by genre, with
 * its own seed), never on the held-out documents; the chosen models are then refit on all training documents and
 * scored once on the held-out documents.
 */
public final class Baselines {
    public static final long VALIDATION_SEED = DatasetSplit.DEFAULT_SEED + 1;
    static final double[] K_GRID = {1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1, 2, 3, 5, 10, 30};
    static final double[] LAMBDA_GRID = grid(0.05, 0.95, 0.05);
    static final double[] DISCOUNT_GRID = grid(0.05, 0.95, 0.05);

    /** One tuned model: its setting, its loss on the validation slice and on the held-out documents. */
    public record Result(String model, String setting, double validationNats, double heldOutNats) {
    }

    /** All results, and the best unigram and bigram (chosen by validation loss). */
    public record Report(List<Result> results, Result unigram, Result bigram,
                         long trainTokens, long validationTokens, long heldOutTokens) {
    }

    /** A model family with one or two hyperparameters, built from counts. */
    private interface Family {
        NextTokenModel build(BigramCounts counts, double[] params);
    }

    private Baselines() {
    }

    public static Report measure(TokenDataset data) {
        List<TokenDataset.Document> train = data.documents(false);
        Set<String> validationIds = DatasetSplit.heldOut(
                train.stream().map(d -> new DatasetSplit.Entry(d.id(), d.genre())).toList(),
                DatasetSplit.DEFAULT_FRACTION, VALIDATION_SEED);
        List<int[]> fit = new ArrayList<>();
        List<int[]> validation = new ArrayList<>();
        List<int[]> all = new ArrayList<>();
        for (TokenDataset.Document d : train) {
            int[] tokens = data.tokens(d);
            all.add(tokens);
            (validationIds.contains(d.id()) ? validation : fit).add(tokens);
        }
        List<int[]> heldOut = data.documents(true).stream().map(data::tokens).toList();
        return measure(fit, validation, all, heldOut, AlignedTokenizer.VOCAB_SIZE, data.eot());
    }

    /**
     * Tunes on {@code fit}/{@code validation}, refits on {@code train} (normally fit ∪ validation) and scores
     * {@code heldOut}.
     */
    public static Report measure(List<int[]> fit, List<int[]> validation, List<int[]> train, List<int[]> heldOut,
                                 int vocab, int separator) {
        BigramCounts fitCounts = BigramCounts.of(fit, vocab, separator);
        BigramCounts trainCounts = BigramCounts.of(train, vocab, separator);

        double[] k = best(fitCounts, validation, separator, (c, p) -> new AddKUnigram(c, p[0]), K_GRID, null);
        Result unigram = result("unigram add-k", "k=" + k[0], k, (c, p) -> new AddKUnigram(c, p[0]),
                fitCounts, trainCounts, validation, heldOut, separator);

        Family jm = (c, p) -> new JelinekMercerBigram(c, new AddKUnigram(c, k[0]), p[0]);
        double[] lambda = best(fitCounts, validation, separator, jm, LAMBDA_GRID, null);
        Result jmResult = result("bigram Jelinek-Mercer", "λ=" + fmt(lambda[0]) + " (unigram k=" + k[0] + ")",
                lambda, jm, fitCounts, trainCounts, validation, heldOut, separator);

        Family kn = (c, p) -> new KneserNeyBigram(c, p[0], p[1]);
        double[] d = best(fitCounts, validation, separator, kn, DISCOUNT_GRID, DISCOUNT_GRID);
        Result knResult = result("bigram Kneser-Ney", "d=" + fmt(d[0]) + " d0=" + fmt(d[1]),
                d, kn, fitCounts, trainCounts, validation, heldOut, separator);

        Result bigram = jmResult.validationNats() <= knResult.validationNats() ? jmResult : knResult;
        long validationTokens = validation.stream().mapToLong(a -> a.length).sum();
        long heldOutTokens = heldOut.stream().mapToLong(a -> a.length).sum();
        return new Report(List.of(unigram, jmResult, knResult), unigram, bigram,
                trainCounts.total(), validationTokens, heldOutTokens);
    }

    /** The grid point (one or two parameters) with the lowest validation loss. */
    private static double[] best(BigramCounts counts, List<int[]> validation, int separator, Family family,
                                 double[] grid1, double[] grid2) {
        double[] best = null;
        double bestLoss = Double.POSITIVE_INFINITY;
        for (double a : grid1) {
            for (double b : grid2 == null ? new double[]{Double.NaN} : grid2) {
                double[] p = {a, b};
                double loss = NextTokenModel.nats(family.build(counts, p), validation, separator);
                if (loss < bestLoss) {
                    bestLoss = loss;
                    best = p;
                }
            }
        }
        return best;
    }

    private static Result result(String name, String setting, double[] params, Family family, BigramCounts fitCounts,
                                 BigramCounts trainCounts, List<int[]> validation, List<int[]> heldOut, int separator) {
        double validationNats = NextTokenModel.nats(family.build(fitCounts, params), validation, separator);
        double heldOutNats = NextTokenModel.nats(family.build(trainCounts, params), heldOut, separator);
        return new Result(name, setting, validationNats, heldOutNats);
    }

    private static double[] grid(double from, double to, double step) {
        int n = (int) Math.round((to - from) / step) + 1;
        double[] g = new double[n];
        for (int i = 0; i < n; i++) g[i] = Math.round((from + i * step) * 1e6) / 1e6;
        return g;
    }

    private static String fmt(double v) {
        return String.format(Locale.ROOT, "%.2f", v);
    }
}
