package dev.loupe.weights;

import dev.loupe.analysis.TokenInfo;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pruned search of the largest entries of L·Rᵀ against the brute force (every entry computed, sorted by value,
 * then row, then column) on random factor matrices of many shapes: Gaussian, small integers (many exact ties, also
 * at the threshold), repeated rows and columns, norms spread over orders of magnitude, zero rows, and matrices whose
 * entries are all negative or all positive; both signs. Ids and values must be exactly the same.
 */
class LowRankSearchTest {

    enum Kind { GAUSSIAN, INTEGERS, REPEATS, SPREAD_NORMS, ZERO_ROWS, ONE_SIGN }

    record Shape(int n, int m, int r) {}

    /** Shapes around the search's blocks: one entry, a partial last group of rows, several blocks of columns, a large rank. */
    static final List<Shape> SHAPES = List.of(new Shape(1, 1, 1), new Shape(3, 2, 1), new Shape(7, 5, 3), new Shape(5, 9, 2),
            new Shape(40, 600, 2), new Shape(513, 1030, 5), new Shape(300, 200, 16), new Shape(1201, 1100, 8), new Shape(50, 60, 64),
            new Shape(1030, 77, 3), new Shape(600, 600, 4), new Shape(130, 130, 32));

    static double[][] factor(Random rnd, Kind kind, int rows, int r, boolean left) {
        double[][] f = new double[rows][r];
        for (int i = 0; i < rows; i++)
            for (int a = 0; a < r; a++)
                f[i][a] = switch (kind) {
                    case INTEGERS, REPEATS -> rnd.nextInt(5) - 2;
                    case ONE_SIGN -> (left ? 1 : -1) * Math.abs(rnd.nextGaussian());
                    default -> rnd.nextGaussian();
                };
        if (kind == Kind.REPEATS && rows > 1)
            for (int i = 0; i < rows; i++) if (rnd.nextInt(3) == 0) f[i] = f[rnd.nextInt(rows)].clone();
        if (kind == Kind.SPREAD_NORMS)
            for (double[] row : f) {
                double scale = Math.exp(2 * rnd.nextGaussian());
                for (int a = 0; a < r; a++) row[a] *= scale;
            }
        if (kind == Kind.ZERO_ROWS)
            for (int i = 0; i < rows; i++) if (rnd.nextInt(4) == 0) f[i] = new double[r];
        return f;
    }

    /** The first k of every entry in the search's order (value, then row, then column), each entry computed. */
    static List<LowRank.Entry> bruteEntries(LowRank m, int k, boolean negative) {
        Comparator<LowRank.Entry> order = LowRank.order(negative);
        PriorityQueue<LowRank.Entry> worstFirst = new PriorityQueue<>(order.reversed());
        for (int i = 0; i < m.rows(); i++)
            for (int j = 0; j < m.cols(); j++) {
                LowRank.Entry e = new LowRank.Entry(i, j, m.get(i, j));
                if (worstFirst.size() < k) worstFirst.add(e);
                else if (order.compare(e, worstFirst.peek()) < 0) {
                    worstFirst.poll();
                    worstFirst.add(e);
                }
            }
        List<LowRank.Entry> out = new ArrayList<>(worstFirst);
        out.sort(order);
        return out;
    }

    /** Every row's maximum (the lower column among equals), the rows by it (the lower row among equals). */
    static List<LowRank.RowMax> bruteRows(LowRank m, int k, boolean negative) {
        double s = negative ? -1 : 1;
        List<LowRank.RowMax> rows = new ArrayList<>();
        for (int i = 0; i < m.rows(); i++) {
            int arg = 0;
            double best = m.get(i, 0);
            for (int j = 1; j < m.cols(); j++) {
                double v = m.get(i, j);
                if (s * v > s * best) {
                    best = v;
                    arg = j;
                }
            }
            rows.add(new LowRank.RowMax(i, arg, best));
        }
        rows.sort(Comparator.<LowRank.RowMax>comparingDouble(x -> -s * x.value()).thenComparingInt(LowRank.RowMax::row));
        return rows.subList(0, Math.min(k, rows.size()));
    }

    @Test
    void thePrunedSearchFindsExactlyTheBruteForcesEntries() {
        Random rnd = new Random(20261202);
        int cases = 0;
        long computed = 0, total = 0;
        for (Shape sh : SHAPES)
            for (Kind kind : Kind.values())
                for (int draw = 0; draw < 2; draw++) {
                    LowRank m = new LowRank(factor(rnd, kind, sh.n(), sh.r(), true), factor(rnd, kind, sh.m(), sh.r(), false));
                    for (boolean negative : new boolean[]{false, true}) {
                        // the first k of a total order: computed once for the largest k
                        List<LowRank.Entry> entries = bruteEntries(m, 50, negative);
                        List<LowRank.RowMax> byRow = bruteRows(m, 50, negative);
                        for (int k : new int[]{1, 3, 10, 50}) {
                            String what = sh + " " + kind + " draw " + draw + " k " + k + (negative ? " negative" : "");
                            long[] visited = new long[1];
                            assertEquals(byRow.subList(0, Math.min(k, byRow.size())), m.topRows(k, negative, visited), what + ": rows");
                            assertTrue(visited[0] <= (long) sh.n() * sh.m(), what);
                            if (kind == Kind.SPREAD_NORMS && sh.n() * sh.m() > 100_000) {
                                computed += visited[0];
                                total += (long) sh.n() * sh.m();
                            }
                            List<LowRank.Entry> want = entries.subList(0, Math.min(k, entries.size()));
                            assertEquals(want, m.topEntries(k, negative, null), what + ": entries");
                            cases++;
                            if (sh.n() != sh.m()) continue; // a head's circuits are square
                            // the weights view's pairs are the same entries
                            HeadCircuits.Circuit c = HeadCircuits.read("M", "row", "col", m, HeadCircuits.Rank.MAX, k, Math.min(k, 5), negative,
                                    id -> new TokenInfo(id, "t" + id, "t" + id));
                            List<LowRank.Entry> pairs = c.pairs().stream().map(p -> new LowRank.Entry(p.row().id(), p.col().id(), p.value())).toList();
                            assertEquals(want, pairs, what + ": pairs");
                        }
                    }
                }
        assertEquals(SHAPES.size() * Kind.values().length * 2 * 2 * 4, cases);
        // with norms spread out the bound rules most entries out
        assertTrue(computed < total / 4, computed + " of " + total + " entries computed");
    }

    @Test
    void tiesAtTheThresholdGoToTheLowerRowAndColumn() {
        // every entry is 1: the first k rows, each at its first column, and the first k entries of row 0
        double[][] ones = new double[700][1];
        for (double[] row : ones) row[0] = 1;
        LowRank m = new LowRank(ones, ones);
        List<LowRank.RowMax> rows = m.topRows(3, false, null);
        assertEquals(List.of(new LowRank.RowMax(0, 0, 1), new LowRank.RowMax(1, 0, 1), new LowRank.RowMax(2, 0, 1)), rows);
        assertEquals(List.of(new LowRank.Entry(0, 0, 1), new LowRank.Entry(0, 1, 1), new LowRank.Entry(0, 2, 1)), m.topEntries(3, false, null));
        // the most negative of an all-positive matrix are its smallest entries
        double[][] l = {{1}, {2}, {3}}, r = {{1}, {5}};
        assertEquals(List.of(new LowRank.Entry(0, 0, 1), new LowRank.Entry(1, 0, 2)), new LowRank(l, r).topEntries(2, true, null));
    }
}
