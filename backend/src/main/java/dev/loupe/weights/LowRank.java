package dev.loupe.weights;

import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.EigenDecomposition;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.IntStream;

/**
 * An n × m matrix kept as the product L·Rᵀ of its factors L [n][r] and R [m][r] (TransformerLens's
 * {@code FactoredMatrix}), for the vocabulary-sized circuits of a head (n = m = d_vocab, r = d_head): entries,
 * rows, the largest entries and the eigenvalues are computed from the factors, never from the n × m matrix.
 */
public final class LowRank {
    private final int n, m, r;
    private final double[][] leftD, rightD; // the factors in double, for exact rows and the eigenvalues
    private volatile Search search;         // the float copies {@link #topRows} screens with, made on its first call
    private volatile Products products;      // LᵀL, RᵀR and RᵀL, made on first need

    /** The factors in float for the screening of {@link #topRows}, with the norms that bound its entries. */
    private static final class Search {
        final float[] left;      // [n][r]
        final float[] rightT;    // [r][m], columns in the order of decreasing norm (see colOrder)
        final int[] colOrder;    // rightT column c is column colOrder[c] of the matrix
        final double[] leftNorm, colNormSorted;

        Search(double[][] l, double[][] rt) {
            int n = l.length, m = rt.length, r = l[0].length;
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
    }

    private Search search() {
        Search s = search;
        if (s == null) search = s = new Search(leftD, rightD); // a race builds it twice, never wrongly
        return s;
    }

    /** The r × r products of the factors every summary reads: LᵀL, RᵀR (norms) and RᵀL (eigenvalues; square only). */
    private record Products(double[][] leftGram, double[][] rightGram, double[][] rightLeft) {}

    private static final int CHUNK = 4096;

    /**
     * All three in one pass over the rows, in chunks shared out to the cores; the chunks' sums are added in chunk
     * order, so the result does not depend on which core did what.
     */
    private Products products() {
        Products p = products;
        if (p != null) return p;
        boolean square = n == m;
        int chunks = (Math.max(n, m) + CHUNK - 1) / CHUNK;
        double[][][][] part = new double[chunks][][][];
        IntStream.range(0, chunks).parallel().forEach(c -> {
            double[][] ll = new double[r][r], rr = new double[r][r], rl = square ? new double[r][r] : null;
            accumulate(leftD, leftD, c * CHUNK, Math.min(n, (c + 1) * CHUNK), ll);
            accumulate(rightD, rightD, c * CHUNK, Math.min(m, (c + 1) * CHUNK), rr);
            if (square) accumulate(rightD, leftD, c * CHUNK, Math.min(n, (c + 1) * CHUNK), rl);
            part[c] = new double[][][]{ll, rr, rl};
        });
        double[][][] sum = {new double[r][r], new double[r][r], square ? new double[r][r] : null};
        for (double[][][] pc : part)
            for (int k = 0; k < 3; k++)
                if (sum[k] != null) for (int a = 0; a < r; a++) for (int b = 0; b < r; b++) sum[k][a][b] += pc[k][a][b];
        products = p = new Products(sum[0], sum[1], sum[2]);
        return p;
    }

    /** out += Σ_{t in [from, to)} x_tᵀ·y_t. */
    private void accumulate(double[][] x, double[][] y, int from, int to, double[][] out) {
        for (int t = from; t < to; t++) {
            double[] xt = x[t], yt = y[t];
            for (int a = 0; a < r; a++) {
                double v = xt[a];
                double[] oa = out[a];
                for (int b = 0; b < r; b++) oa[b] += v * yt[b];
            }
        }
    }

    /** @param l the left factor [n][r], @param rt the right factor [m][r] (the matrix is l·rtᵀ) */
    public LowRank(double[][] l, double[][] rt) {
        if (l.length == 0 || rt.length == 0 || l[0].length != rt[0].length)
            throw new IllegalArgumentException("factors must be non-empty with the same inner size");
        n = l.length;
        m = rt.length;
        r = l[0].length;
        leftD = l;
        rightD = rt;
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
    public double norm() { return Math.sqrt(Linalg.traceProduct(products().leftGram(), products().rightGram())); }

    /** The non-zero eigenvalues (square matrices): those of Rᵀ·L [r][r], which L·Rᵀ shares; as [re, im] pairs. */
    public double[][] eigenvalues() {
        if (n != m) throw new IllegalArgumentException("eigenvalues of a non-square matrix");
        double[][] small = products().rightLeft();
        EigenDecomposition e = new EigenDecomposition(new Array2DRowRealMatrix(small, true));
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

    /** The k largest values of v (most negative with {@code negative}), the lower index first among equals. */
    static List<Entry> top(double[] v, int k, boolean negative, java.util.function.IntFunction<Entry> at) {
        double s = negative ? -1 : 1;
        // worst first: the smaller value, then the higher index
        PriorityQueue<Integer> heap = new PriorityQueue<>(Comparator.<Integer>comparingDouble(x -> s * v[x]).thenComparing(Comparator.reverseOrder()));
        for (int x = 0; x < v.length; x++) {
            if (heap.size() < k) heap.add(x);
            else if (s * v[x] > s * v[heap.peek()]) { // scanned in order, so an equal value never beats the one held
                heap.poll();
                heap.add(x);
            }
        }
        List<Entry> out = new ArrayList<>();
        for (Integer x : heap) {
            Entry e = at.apply(x);
            out.add(new Entry(e.row(), e.col(), v[x]));
        }
        out.sort(order(negative));
        return out;
    }

    /**
     * The {@code count} rows of largest Euclidean norm, largest first, with their norms: ‖row_i‖² = L_i·(RᵀR)·L_iᵀ,
     * so the cost is n·r² whatever m is.
     */
    public List<double[]> topRowsByNorm(int count) {
        double[][] g = products().rightGram();
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
        return top(norm, count, false, i -> new Entry(i, i, 0)).stream().map(e -> new double[]{e.row(), e.value()}).toList();
    }

    /** Rows by their largest entry: the row, its largest entry and where. */
    public record RowMax(int row, int col, double value) {}

    /**
     * The order of entries: largest first (with {@code negative}: most negative first), then the lower row, then the
     * lower column, so that every search and the brute force agree on ties.
     */
    public static Comparator<Entry> order(boolean negative) {
        double s = negative ? -1 : 1;
        return Comparator.<Entry>comparingDouble(e -> -s * e.value()).thenComparingInt(Entry::row).thenComparingInt(Entry::col);
    }

    /** The first {@code k} entries of {@code entries} in {@link #order}. */
    public static List<Entry> best(List<Entry> entries, int k, boolean negative) {
        List<Entry> all = new ArrayList<>(entries);
        all.sort(order(negative));
        return List.copyOf(all.subList(0, Math.min(k, all.size())));
    }

    /**
     * The {@code k} largest entries of the matrix (with {@code negative}: the most negative) in {@link #order},
     * exactly: they lie in the k rows of largest maximum ({@link #topRows}), among each row's k largest.
     *
     * @param visited out: [0] how many entries the search computed, may be null
     */
    public List<Entry> topEntries(int k, boolean negative, long[] visited) {
        List<Entry> all = new ArrayList<>();
        for (RowMax r : topRows(k, negative, visited)) all.addAll(rowTop(r.row(), k, negative));
        return best(all, k, negative);
    }

    /**
     * The {@code count} rows with the largest maximum entry (with {@code negative}: the most negative minimum), in
     * that order (the lower row first among equals), each with its maximum (the lower column among equals), found
     * exactly without computing most entries. Rows are taken in order of decreasing ‖L_i‖ and each row's columns in
     * order of decreasing ‖R_j‖; by Cauchy–Schwarz L_i·R_j ≤ ‖L_i‖‖R_j‖, so the rest of a row stops as soon as the
     * bound cannot beat the row's best or the current count-th best row, and the search stops at the first row whose
     * bound cannot beat the count-th best. {@link #GROUP} rows go through each block of columns together (they share
     * its loads), and the groups are shared out to the cores in order. The entries are screened in float and every
     * candidate within the float error of the threshold is recomputed in double, so the result is that of the
     * double matrix.
     *
     * @param visited out: [0] how many entries were computed (n·m without pruning), may be null
     */
    public List<RowMax> topRows(int count, boolean negative, long[] visited) {
        int k = Math.min(Math.max(count, 0), n);
        if (k == 0) return List.of();
        double s = negative ? -1 : 1;
        Search z = search();
        double[] leftNorm = z.leftNorm;
        int[] rowsByNorm = IntStream.range(0, n).boxed()
                .sorted(Comparator.<Integer>comparingDouble(i -> -leftNorm[i]).thenComparingInt(i -> i)).mapToInt(Integer::intValue).toArray();
        Comparator<RowMax> better = Comparator.<RowMax>comparingDouble(x -> s * x.value()).thenComparingInt(x -> -x.row()); // larger is better
        TopRows best = new TopRows(k, better, s);
        int groups = (n + GROUP - 1) / GROUP;
        AtomicInteger next = new AtomicInteger();
        LongAdder computed = new LongAdder();
        int workers = Math.min(groups, ForkJoinPool.getCommonPoolParallelism() + 1);
        IntStream.range(0, workers).parallel().forEach(w -> computed.add(searchGroups(z, rowsByNorm, groups, next, best, s)));
        if (visited != null) visited[0] = computed.sum();
        return best.sorted();
    }

    /** One worker of {@link #topRows}: takes the next group of rows until none is left or none can enter; returns the entries it computed. */
    private long searchGroups(Search z, int[] rowsByNorm, int groups, AtomicInteger next, TopRows best, double s) {
        float[] left = z.left;
        int[] colOrder = z.colOrder;
        double[] leftNorm = z.leftNorm, colNormSorted = z.colNormSorted;
        float[] acc = new float[GROUP * BLOCK];
        float[] lg = new float[GROUP * r];
        int[] rows = new int[GROUP];
        double[] rowBest = new double[GROUP], slack = new double[GROUP];
        int[] rowArg = new int[GROUP];
        long computed = 0;
        for (int g = next.getAndIncrement(); g < groups; g = next.getAndIncrement()) {
            int g0 = g * GROUP, len = Math.min(GROUP, n - g0);
            double tau = best.threshold();
            // the float screening's error is below (r + 2)·2⁻²⁴·‖L_i‖‖R_j‖ ≤ 1e-6·r·‖L_i‖·max‖R‖; within it entries are resolved in double
            int first = rowsByNorm[g0];
            double firstSlack = 1e-6 * (r + 2) * leftNorm[first] * colNormSorted[0];
            // rows come in order of decreasing norm and the threshold only rises: no later row can enter either
            if (leftNorm[first] * colNormSorted[0] < tau - firstSlack) break;
            Arrays.fill(lg, 0f);
            for (int q = 0; q < len; q++) {
                int i = rowsByNorm[g0 + q];
                rows[q] = i;
                for (int a = 0; a < r; a++) lg[q * r + a] = (float) (s * left[i * r + a]);
                rowBest[q] = Double.NEGATIVE_INFINITY;
                rowArg[q] = -1;
                slack[q] = 1e-6 * (r + 2) * leftNorm[i] * colNormSorted[0];
            }
            for (int c0 = 0; c0 < m; c0 += BLOCK) {
                tau = best.threshold();
                boolean needed = false;
                for (int q = 0; q < len && !needed; q++)
                    needed = leftNorm[rows[q]] * colNormSorted[c0] >= Math.max(tau, rowBest[q]) - slack[q];
                if (!needed) break;
                int bl = Math.min(BLOCK, m - c0);
                block(z.rightT, lg, c0, bl, acc);
                computed += (long) len * bl;
                for (int q = 0; q < len; q++) {
                    int i = rows[q], off = q * BLOCK;
                    double floor = Math.max(tau, rowBest[q]) - slack[q];
                    for (int c = 0; c < bl; c++) {
                        if (acc[off + c] < floor) continue;
                        int j = colOrder[c0 + c];
                        double exact = s * get(i, j);
                        if (exact > rowBest[q] || (exact == rowBest[q] && j < rowArg[q])) {
                            rowBest[q] = exact;
                            rowArg[q] = j;
                            floor = Math.max(tau, exact) - slack[q];
                        }
                    }
                }
            }
            for (int q = 0; q < len; q++) if (rowArg[q] >= 0) best.offer(new RowMax(rows[q], rowArg[q], s * rowBest[q]));
        }
        return computed;
    }

    /**
     * acc[q·BLOCK + c] = lg[q]·R_{colOrder[c0 + c]} (in float) for the {@link #GROUP} (4) rows of {@code lg} and the
     * {@code len} columns from c0 in norm order: one pass over the block of Rᵀ serves every row.
     */
    private void block(float[] rightT, float[] lg, int c0, int len, float[] acc) {
        Arrays.fill(acc, 0f);
        for (int a = 0; a < r; a++) {
            int base = a * m + c0;
            float x0 = lg[a], x1 = lg[r + a], x2 = lg[2 * r + a], x3 = lg[3 * r + a];
            for (int c = 0; c < len; c++) {
                float y = rightT[base + c];
                acc[c] += x0 * y;
                acc[BLOCK + c] += x1 * y;
                acc[2 * BLOCK + c] += x2 * y;
                acc[3 * BLOCK + c] += x3 * y;
            }
        }
    }

    /** The best rows so far, shared by the workers: the count-th best value is the threshold a row must reach. */
    private static final class TopRows {
        private final int k;
        private final Comparator<RowMax> better;
        private final PriorityQueue<RowMax> heap; // worst first
        private final double s;
        private volatile double threshold = Double.NEGATIVE_INFINITY;

        TopRows(int k, Comparator<RowMax> better, double s) {
            this.k = k;
            this.better = better;
            this.heap = new PriorityQueue<>(better);
            this.s = s;
        }

        /** The value (times the sign) a row must at least reach to enter: −∞ until k rows are in. */
        double threshold() { return threshold; }

        synchronized void offer(RowMax x) {
            if (k == 0) return;
            if (heap.size() < k) heap.add(x);
            else if (better.compare(x, heap.peek()) > 0) {
                heap.poll();
                heap.add(x);
            } else return;
            if (heap.size() == k) threshold = s * heap.peek().value();
        }

        synchronized List<RowMax> sorted() {
            List<RowMax> out = new ArrayList<>(heap);
            out.sort(better.reversed());
            return out;
        }
    }

    /** Rows searched together, and columns per block (4 × 512 floats of sums stay in the L1 cache). */
    static final int GROUP = 4, BLOCK = 512;
}
