package dev.loupe.data.baseline;

/**
 * Interpolated Kneser-Ney bigram (absolute discounting with a continuation unigram), down to a uniform floor so
 * unseen tokens keep some probability:
 * <pre>
 * p(w|v)  = max(c(v,w) − d, 0) / c(v·) + d · N1+(v·) / c(v·) · p_kn(w)        (p_kn(w) if c(v·) = 0)
 * p_kn(w) = max(N1+(·w) − d0, 0) / N1+(··) + d0 · T / N1+(··) · 1/V            (T = #{w : N1+(·w) > 0})
 * </pre>
 * The continuation unigram counts in how many contexts w appears rather than how often, which is what matters when
 * the bigram has nothing to say.
 */
public final class KneserNeyBigram implements NextTokenModel {
    private final BigramCounts counts;
    private final double d;
    private final double d0;

    public KneserNeyBigram(BigramCounts counts, double d, double d0) {
        if (!(d > 0 && d < 1 && d0 > 0 && d0 < 1)) throw new IllegalArgumentException("discounts must be in (0, 1)");
        this.counts = counts;
        this.d = d;
        this.d0 = d0;
    }

    public double continuation(int w) {
        double types = counts.bigramTypes;
        return Math.max(counts.predecessorTypes[w] - d0, 0) / types
                + d0 * counts.continuationTypes / types / counts.vocab;
    }

    @Override
    public double logProb(int prev, int next) {
        long h = counts.history[prev];
        double lower = continuation(next);
        if (h == 0) return Math.log(lower);
        double seen = Math.max(counts.count(prev, next) - d, 0) / h;
        return Math.log(seen + d * counts.followerTypes[prev] / h * lower);
    }
}
