package dev.loupe.data.baseline;

import java.util.List;

/**
 * Unigram and bigram statistics of documents for next-token prediction. Every document token is a target; its
 * history is the token before it, or the separator for a document's first token (the separator is a history,
 * never a target). Also the type counts that Kneser-Ney smoothing needs.
 */
public final class BigramCounts {
    final int vocab;
    /** c(w): times w is a target. */
    final long[] unigram;
    /** N = Σ c(w). */
    final long total;
    /** c(v·): times v is a history. */
    final long[] history;
    /** c(v, w), keyed {@code v·V + w}. */
    final LongIntHashMap bigram;
    /** N1+(v·): distinct tokens that follow v. */
    final int[] followerTypes;
    /** N1+(·w): distinct tokens that precede w. */
    final int[] predecessorTypes;
    /** N1+(··): distinct bigrams. */
    final long bigramTypes;
    /** Tokens with N1+(·w) > 0. */
    final int continuationTypes;

    private BigramCounts(int vocab, long[] unigram, long total, long[] history, LongIntHashMap bigram) {
        this.vocab = vocab;
        this.unigram = unigram;
        this.total = total;
        this.history = history;
        this.bigram = bigram;
        this.followerTypes = new int[vocab];
        this.predecessorTypes = new int[vocab];
        bigram.forEach((key, count) -> {
            followerTypes[(int) (key / vocab)]++;
            predecessorTypes[(int) (key % vocab)]++;
        });
        this.bigramTypes = bigram.size();
        int types = 0;
        for (int n : predecessorTypes) if (n > 0) types++;
        this.continuationTypes = types;
    }

    public static BigramCounts of(List<int[]> documents, int vocab, int separator) {
        long[] unigram = new long[vocab];
        long[] history = new long[vocab];
        long total = 0;
        LongIntHashMap bigram = new LongIntHashMap(1 << 16);
        for (int[] doc : documents) {
            int prev = separator;
            for (int tok : doc) {
                unigram[tok]++;
                history[prev]++;
                bigram.add(key(prev, tok, vocab), 1);
                total++;
                prev = tok;
            }
        }
        return new BigramCounts(vocab, unigram, total, history, bigram);
    }

    static long key(int prev, int next, int vocab) {
        return (long) prev * vocab + next;
    }

    int count(int prev, int next) {
        return bigram.get(key(prev, next, vocab));
    }

    public long total() {
        return total;
    }

    public int vocab() {
        return vocab;
    }
}
