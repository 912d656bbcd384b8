package dev.loupe.data.baseline;

/** Unigram with add-k smoothing: p(w) = (c(w) + k) / (N + k·V); ignores the previous token. */
public final class AddKUnigram implements NextTokenModel {
    private final BigramCounts counts;
    private final double k;
    private final double denominator;

    public AddKUnigram(BigramCounts counts, double k) {
        if (!(k > 0)) throw new IllegalArgumentException("k must be positive");
        this.counts = counts;
        this.k = k;
        this.denominator = counts.total + k * counts.vocab;
    }

    public double prob(int w) {
        return (counts.unigram[w] + k) / denominator;
    }

    @Override
    public double logProb(int prev, int next) {
        return Math.log(prob(next));
    }
}
