package dev.loupe.weights;

import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.EigenDecomposition;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.stream.IntStream;

/**
 * An n × m matrix kept as the product L·Rᵀ of its factors L [n][r] and R [m][r] (TransformerLens's
 * {@code FactoredMatrix}), for the vocabulary-sized circuits of a head (n = m = d_vocab, r = d_head): entries,
 * rows, the largest entries and the eigenvalues are computed from the factors, never from the n × m matrix.
 */
public final class LowRank {
    private final int n, m, r;
    private final float[] left;      // [n][r]
    private final float[] rightT;    // [r][m], columns in the order of decreasing norm (see colOrder)
    private final int[] colOrder;    // rightT column c is column colOrder[c] of the matrix
    private final double[] leftNorm, colNormSorted;
    private final double[][] leftD, rightD; // the factors in double, for exact rows and the eigenvalues

    /** @param l the left factor [n][r], @param rt the right factor [m][r] (the matrix is l·rtᵀ) */
    public LowRank(double[][] l, double[][] rt) {
        if (l.length == 0 || rt.length == 0 || l[0].length != rt[0].length)
            throw new IllegalArgumentException("factors must be non-empty with the same inner size");
        n = l.length;
        m = rt.length;
        r = l[0].length;
        leftD = l;
        rightD = rt;
        left = new float[n * r];
        leftNorm = new double[n];
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int a = 0; a < r; a++) {
                left[i * r + a] = (float) l[i][a];
                s += l[i][a] * l[i][a];
            }
            leftNorm[i] = Math.sqrt(s);
        }
        double[] colNorm = new double[m];
        for (int j = 0; j < m; j++) {
            double s = 0;
            for (int a = 0; a < r; a++) s += rt[j][a] * rt[j][a];
            colNorm[j] = Math.sqrt(s);
        }
        colOrder = IntStream.range(0, m).boxed().sorted(Comparator.comparingDouble(j -> -colNorm[j])).mapToInt(Integer::intValue).toArray();
        colNormSorted = new double[m];
        rightT = new float[r * m];
        for (int c = 0; c < m; c++) {
            colNormSorted[c] = colNorm[colOrder[c]];
            for (int a = 0; a < r; a++) rightT[a * m + c] = (float) rt[colOrder[c]][a];
        }
    }

    public int rows() { return n; }
    public int cols() { return m; }
    public int rank() { return r; }

    public double get(int i, int j) {
        double s = 0;
        for (int a = 0; a < r; a++) s += leftD[i][a] * rightD[j][a];
        return s;
    }

    /** Row i in double. */
    public double[] row(int i) {
        double[] out = new double[m];
        for (int j = 0; j < m; j++) out[j] = get(i, j);
        return out;
    }

    /** Column j in double. */
    public double[] column(int j) {
        double[] out = new double[n];
        for (int i = 0; i < n; i++) out[i] = get(i, j);
        return out;
    }

    /** The transpose R·Lᵀ. */
    public LowRank transpose() { return new LowRank(rightD, leftD); }

    /** Frobenius norm: √tr((LᵀL)(RᵀR)). */
    public double norm() { return Math.sqrt(Linalg.traceProduct(Linalg.gram(leftD), Linalg.gram(rightD))); }

    /** The non-zero eigenvalues (square matrices): those of Rᵀ·L [r][r], which L·Rᵀ shares; as [re, im] pairs. */
    public double[][] eigenvalues() {
        if (n != m) throw new IllegalArgumentException("eigenvalues of a non-square matrix");
        double[][] small = new double[r][r];
        for (int a = 0; a < r; a++)
            for (int b = 0; b < r; b++) {
                double s = 0;
                for (int t = 0; t < n; t++) s += rightD[t][a] * leftD[t][b];
                small[a][b] = s;
            }
        EigenDecomposition e = new EigenDecomposition(new Array2DRowRealMatrix(small, false));
        double[][] out = new double[r][];
        for (int a = 0; a < r; a++) out[a] = new double[]{e.getRealEigenvalue(a), e.getImagEigenvalue(a)};
        return out;
    }

    /** An entry of the matrix. */
    public record Entry(int row, int col, double value) {}

    /** The k largest entries of row i (descending); with {@code negative}, the k most negative (ascending). */
    public List<Entry> rowTop(int i, int k, boolean negative) {
        return top(row(i), k, negative, j -> new Entry(i, j, 0));
    }

    /** The k largest entries of column j; with {@code negative} the k most negative. */
    public List<Entry> colTop(int j, int k, boolean negative) {
        return top(column(j), k, negative, i -> new Entry(i, j, 0));
    }

    static List<Entry> top(double[] v, int k, boolean negative, java.util.function.IntFunction<Entry> at) {
        double s = negative ? -1 : 1;
        Integer[] idx = IntStream.range(0, v.length).boxed().toArray(Integer[]::new);
        PriorityQueue<Integer> heap = new PriorityQueue<>(Comparator.comparingDouble(x -> s * v[x]));
        for (Integer x : idx) {
            if (heap.size() < k) heap.add(x);
            else if (s * v[x] > s * v[heap.peek()]) {
                heap.poll();
                heap.add(x);
            }
        }
        List<Entry> out = new ArrayList<>();
        for (Integer x : heap) {
            Entry e = at.apply(x);
            out.add(new Entry(e.row(), e.col(), v[x]));
        }
        out.sort(Comparator.comparingDouble(e -> -s * e.value()));
        return out;
    }

    /**
     * The {@code count} rows of largest Euclidean norm, largest first, with their norms: ‖row_i‖² = L_i·(RᵀR)·L_iᵀ,
     * so the cost is n·r² whatever m is.
     */
    public List<double[]> topRowsByNorm(int count) {
        double[][] g = Linalg.gram(rightD);
        double[] norm = new double[n];
        IntStream.range(0, n).parallel().forEach(i -> {
            double s = 0;
            double[] li = leftD[i];
            for (int a = 0; a < r; a++) {
                double t = 0;
                for (int b = 0; b < r; b++) t += g[a][b] * li[b];
                s += li[a] * t;
            }
            norm[i] = Math.sqrt(Math.max(0, s));
        });
        return IntStream.range(0, n).boxed().sorted(Comparator.comparingDouble(i -> -norm[i])).limit(count)
                .map(i -> new double[]{i, norm[i]}).toList();
    }

    /** Rows by their largest entry: the row, its largest entry and where. */
    public record RowMax(int row, int col, double value) {}

    /**
     * The {@code count} rows with the largest maximum entry (with {@code negative}: the most negative minimum), in
     * that order, found exactly without computing most entries: rows are taken in order of decreasing ‖L_i‖ and
     * each row's columns in order of decreasing ‖R_j‖, and by Cauchy–Schwarz L_i·R_j ≤ ‖L_i‖‖R_j‖ a row or the rest
     * of a row that cannot beat the current count-th best is skipped. The entries are screened in float and
     * every candidate recomputed in double.
     *
     * @param visited out: [0] how many entries were computed (n·m without pruning), may be null
     */
    public List<RowMax> topRows(int count, boolean negative, long[] visited) {
        int k = Math.min(count, n);
        double s = negative ? -1 : 1;
        Integer[] rowsByNorm = IntStream.range(0, n).boxed().sorted(Comparator.comparingDouble(i -> -leftNorm[i])).toArray(Integer[]::new);
        PriorityQueue<RowMax> best = new PriorityQueue<>(Comparator.comparingDouble(x -> s * x.value()));
        float[] acc = new float[BLOCK];
        float[] li = new float[r];
        long computed = 0;
        for (int i : rowsByNorm) {
            double tau = best.size() < k ? Double.NEGATIVE_INFINITY : s * best.peek().value();
            // the float screening's error is below r·2⁻²⁴·‖L_i‖‖R_j‖; candidates within it are resolved in double
            double slack = 1e-6 * r * leftNorm[i] * colNormSorted[0];
            if (leftNorm[i] * colNormSorted[0] <= tau - slack) break;
            for (int a = 0; a < r; a++) li[a] = (float) (s * left[i * r + a]);
            double rowBest = Double.NEGATIVE_INFINITY;
            int rowArg = -1;
            for (int c0 = 0; c0 < m; c0 += BLOCK) {
                double floor = Math.max(tau, rowBest) - slack;
                if (leftNorm[i] * colNormSorted[c0] <= floor) break;
                int len = Math.min(BLOCK, m - c0);
                Arrays.fill(acc, 0, len, 0f);
                for (int a = 0; a < r; a++) {
                    float x = li[a];
                    int base = a * m + c0;
                    for (int c = 0; c < len; c++) acc[c] += x * rightT[base + c];
                }
                computed += len;
                for (int c = 0; c < len; c++) {
                    if (acc[c] > rowBest - slack) {
                        double exact = s * get(i, colOrder[c0 + c]);
                        if (exact > rowBest) {
                            rowBest = exact;
                            rowArg = colOrder[c0 + c];
                        }
                    }
                }
            }
            if (rowArg >= 0 && (best.size() < k || rowBest > tau)) {
                best.add(new RowMax(i, rowArg, s * rowBest));
                if (best.size() > k) best.poll();
            }
        }
        if (visited != null) visited[0] = computed;
        List<RowMax> out = new ArrayList<>(best);
        out.sort(Comparator.comparingDouble(x -> -s * x.value()));
        return out;
    }

    private static final int BLOCK = 512;
}
