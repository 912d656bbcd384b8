package dev.loupe.neurons;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A neuron's automatic label as a rule that can be tested: "fires when the token is one of these" (the tokens that
 * make up most of its top examples), or, when no token dominates and the corpus is tagged, "fires on words of this
 * class" (a coarse POS class holding at least half of the top examples). The rule's score is the Pearson correlation
 * between its indicator and the neuron's activation on held-out text: near 1 the label says what the neuron does;
 * near 0 the examples were a coincidence, the label misses what else the neuron fires on (its specificity).
 *
 * @param tokens    the rule's tokens (empty for a class rule or no rule)
 * @param tagClass  the rule's class id (index into the corpus's class list), or -1
 * @param share     the fraction of top examples the rule covers
 */
public record LabelRule(int[] tokens, int tagClass, double share) {
    public static final LabelRule NONE = new LabelRule(new int[0], -1, 0);
    static final double COVER = 0.8, MIN_TOKEN_SHARE = 0.1, MIN_CLASS_SHARE = 0.5;
    static final int MAX_TOKENS = 5;

    public boolean isEmpty() { return tokens.length == 0 && tagClass < 0; }

    /** True when a position with this token and class id satisfies the rule. */
    boolean fires(int token, int cls) {
        if (tagClass >= 0) return cls == tagClass;
        for (int t : tokens) if (t == token) return true;
        return false;
    }

    /**
     * The rule of one neuron from its top examples' tokens and class ids ({@code classes} null when untagged; class 0
     * is "no word" and never a rule). Tokens are taken by count, most frequent first (lower id first among equal
     * counts), while each has at least 10 % of the examples (and at least 2), until they cover 80 % or there are 5.
     */
    static LabelRule derive(int[] exampleTokens, int[] exampleClasses) {
        int n = exampleTokens.length;
        if (n == 0) return NONE;
        int[] sorted = exampleTokens.clone();
        Arrays.sort(sorted);
        List<int[]> counts = new ArrayList<>(); // {token, count}
        for (int i = 0; i < n; ) {
            int j = i;
            while (j < n && sorted[j] == sorted[i]) j++;
            counts.add(new int[]{sorted[i], j - i});
            i = j;
        }
        counts.sort((a, b) -> a[1] != b[1] ? Integer.compare(b[1], a[1]) : Integer.compare(a[0], b[0]));
        int minCount = Math.max(2, (int) Math.ceil(MIN_TOKEN_SHARE * n - 1e-9));
        List<Integer> chosen = new ArrayList<>();
        int covered = 0;
        for (int[] c : counts) {
            if (c[1] < minCount || chosen.size() == MAX_TOKENS || covered >= COVER * n) break;
            chosen.add(c[0]);
            covered += c[1];
        }
        if (!chosen.isEmpty()) return new LabelRule(chosen.stream().mapToInt(Integer::intValue).toArray(), -1, covered / (double) n);
        if (exampleClasses == null) return NONE;
        int best = -1, bestCount = 0;
        int[] perClass = new int[Arrays.stream(exampleClasses).max().orElse(0) + 1];
        for (int c : exampleClasses) if (c > 0) perClass[c]++;
        for (int c = 1; c < perClass.length; c++) if (perClass[c] > bestCount) { best = c; bestCount = perClass[c]; }
        if (best > 0 && bestCount >= MIN_CLASS_SHARE * n) return new LabelRule(new int[0], best, bestCount / (double) n);
        return NONE;
    }

    /** Pearson correlation of the indicator i with the activation x from their sums; NaN when either is constant. */
    static double pearson(long n, double sx, double sxx, double sxi, long si) {
        double num = n * sxi - sx * si;
        double vx = n * sxx - sx * sx, vi = (double) n * si - (double) si * si;
        if (!(vx > 0) || !(vi > 0)) return Double.NaN;
        return num / Math.sqrt(vx * vi);
    }
}
