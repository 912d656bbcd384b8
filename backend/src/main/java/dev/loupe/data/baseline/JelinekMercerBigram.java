package dev.loupe.data.baseline;

/**
 * Interpolated bigram: p(w|v) = λ·c(v,w)/c(v·) + (1−λ)·p_unigram(w); the unigram alone for a history never seen.
 */
public final class JelinekMercerBigram implements NextTokenModel {
    private final BigramCounts counts;
    private final AddKUnigram unigram;
    private final double lambda;

    public JelinekMercerBigram(BigramCounts counts, AddKUnigram unigram, double lambda) {
        if (!(lambda >= 0 && lambda < 1)) throw new IllegalArgumentException("λ must be in [0, 1)");
        this.counts = counts;
        this.unigram = unigram;
        this.lambda = lambda;
    }

    @Override
    public double logProb(int prev, int next) {
        long h = counts.history[prev];
        double lower = unigram.prob(next);
        if (h == 0) return Math.log(lower);
        return Math.log(lambda * counts.count(prev, next) / h + (1 - lambda) * lower);
    }
}
