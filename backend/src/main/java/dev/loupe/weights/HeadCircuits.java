package dev.loupe.weights;

import dev.loupe.analysis.TokenInfo;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.IntFunction;

/**
 * A head's QK and OV circuits through the embedding (Elhage et al. 2021), on the {@link FoldedWeights}:
 * full QK = W_E·W_Q·W_Kᵀ·W_Eᵀ (entry [query token][key token]: the attention score, before the 1/√d_head scale,
 * between the two tokens' embeddings) and full OV = W_E·W_V·W_O·W_U (entry [source token][output token]: how
 * attending to the source token moves the output token's logit). Both are d_vocab × d_vocab of rank d_head and are
 * kept as {@link LowRank} factors.
 */
public final class HeadCircuits {
    public static final String CONVENTION = "TransformerLens processed weights (fold_ln, center_writing_weights, center_unembed): "
            + "W_E and W_O centred over d_model, W_Q/W_K/W_V scaled by ln1.w and centred, W_U = diag(ln_final.w)·W_Eᵀ centred over "
            + "d_model and over the vocabulary; LayerNorm's division by the norm, positional embeddings and biases are left out; "
            + "QK entries are raw bilinear scores (not divided by √d_head)";

    private HeadCircuits() {}

    public static LowRank qk(FoldedWeights w, int layer, int head) {
        double[][][] f = w.embed().times(w.wQ(layer, head), w.wK(layer, head));
        return new LowRank(f[0], f[1]);
    }

    public static LowRank ov(FoldedWeights w, int layer, int head) {
        // right factor: row t is W_O·W_U[:, t], i.e. [d_vocab][d_head] = W_Uᵀ·W_Oᵀ
        return new LowRank(w.embed().times(w.wV(layer, head))[0], w.unembedT().times(Linalg.transpose(w.wO(layer, head)))[0]);
    }

    /** A token with a value. */
    public record Scored(TokenInfo token, double value) {}

    /** One of the top rows: its token, the row's norm, and its top entries (the most negative with sign negative). */
    public record Row(TokenInfo token, double norm, List<Scored> top) {}

    /** An entry: row token, column token, value. */
    public record Pair(TokenInfo row, TokenInfo col, double value) {}

    /** How the rows shown are chosen. */
    public enum Rank {
        /** the rows holding the largest (most negative) entries, by an exact search; their entries are the matrix's top pairs */
        MAX,
        /** the rows of largest norm (the tokens the circuit acts on most strongly), cheap at any vocabulary size */
        NORM
    }

    /**
     * The exact search by largest entry is the default up to this many entries (a vocabulary of 8,192), where it takes
     * milliseconds. It is exact at any vocabulary, but at GPT-2's 50,257 tokens the Cauchy–Schwarz bound rules out too
     * little on many heads: brown-6l's heads compute 0.4–95% of the 2.5·10⁹ entries, 0.2–29 s on two shared cores, and
     * random heads of 128 dimensions all of them; there the rows of largest norm are the default.
     */
    public static final long MAX_DEFAULT_ENTRIES = 1L << 26;

    public static Rank defaultRank(int vocab) { return (long) vocab * vocab <= MAX_DEFAULT_ENTRIES ? Rank.MAX : Rank.NORM; }

    /**
     * One circuit read off its factors.
     *
     * @param rows             {@code count} rows chosen by {@code rank}, each with its top {@code n} entries
     * @param pairs            the {@code count} largest (most negative) entries of those rows: with rank MAX the whole
     *                         matrix's largest entries
     * @param positivity       Σλ/Σ|λ| over the eigenvalues (1: every direction maps onto itself positively)
     * @param eigenvalues      the d_head non-zero eigenvalues as [re, im], largest modulus first
     * @param entriesComputed  how many of the d_vocab² entries the search computed
     */
    public record Circuit(String name, String rowName, String colName, String rank, boolean negative, List<Row> rows,
                          List<Pair> pairs, double positivity, double[][] eigenvalues, double norm, long entriesComputed,
                          long entriesTotal) {}

    /** The rows and columns of one token: as a row (what it does) and as a column (what does it to it). */
    public record TokenView(TokenInfo token, List<Scored> asRow, List<Scored> asColumn) {}

    public static Circuit read(String name, String rowName, String colName, LowRank m, Rank rank, int count, int n,
                               boolean negative, IntFunction<TokenInfo> token) {
        long[] visited = new long[1];
        List<Integer> chosen = new ArrayList<>();
        if (rank == Rank.MAX) {
            for (LowRank.RowMax r : m.topRows(count, negative, visited)) chosen.add(r.row());
        } else {
            for (double[] r : m.topRowsByNorm(count)) chosen.add((int) r[0]);
        }
        List<Row> rows = new ArrayList<>();
        List<LowRank.Entry> all = new ArrayList<>();
        int per = Math.max(count, n);
        for (int i : chosen) {
            double[] row = m.row(i);
            visited[0] += rank == Rank.MAX ? 0 : row.length;
            double sq = 0;
            for (double v : row) sq += v * v;
            List<Scored> shown = new ArrayList<>();
            for (LowRank.Entry e : LowRank.top(row, per, negative, j -> new LowRank.Entry(i, j, 0))) {
                if (shown.size() < n) shown.add(new Scored(token.apply(e.col()), e.value()));
                all.add(e);
            }
            rows.add(new Row(token.apply(i), Math.sqrt(sq), shown));
        }
        // the count best entries of the matrix lie in the count rows of best entries, among their count best
        List<Pair> pairs = LowRank.best(all, count, negative).stream()
                .map(e -> new Pair(token.apply(e.row()), token.apply(e.col()), e.value())).toList();
        double[][] eig = m.eigenvalues();
        java.util.Arrays.sort(eig, Comparator.comparingDouble(e -> -Math.hypot(e[0], e[1])));
        double sum = 0, abs = 0;
        for (double[] e : eig) {
            sum += e[0];
            abs += Math.hypot(e[0], e[1]);
        }
        return new Circuit(name, rowName, colName, rank.name().toLowerCase(java.util.Locale.ROOT), negative, rows, pairs,
                abs == 0 ? 0 : sum / abs, eig, m.norm(), visited[0], (long) m.rows() * m.cols());
    }

    public static TokenView token(LowRank m, int id, int n, boolean negative, IntFunction<TokenInfo> token) {
        List<Scored> row = new ArrayList<>(), col = new ArrayList<>();
        for (LowRank.Entry e : m.rowTop(id, n, negative)) row.add(new Scored(token.apply(e.col()), e.value()));
        for (LowRank.Entry e : m.colTop(id, n, negative)) col.add(new Scored(token.apply(e.row()), e.value()));
        return new TokenView(token.apply(id), row, col);
    }
}
