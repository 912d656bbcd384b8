package dev.loupe.weights;

/** The few small dense products the weight circuits need (matrices as double[rows][cols]). */
final class Linalg {
    private Linalg() {}

    /** XᵀX [c][c] of X [n][c]. */
    static double[][] gram(double[][] x) {
        int c = x[0].length;
        double[][] g = new double[c][c];
        for (double[] row : x)
            for (int a = 0; a < c; a++) {
                double va = row[a];
                if (va == 0) continue;
                for (int b = 0; b < c; b++) g[a][b] += va * row[b];
            }
        return g;
    }

    /** XᵀY [cx][cy] of X [n][cx], Y [n][cy]. */
    static double[][] crossT(double[][] x, double[][] y) {
        int cx = x[0].length, cy = y[0].length;
        double[][] g = new double[cx][cy];
        for (int t = 0; t < x.length; t++)
            for (int a = 0; a < cx; a++) {
                double va = x[t][a];
                for (int b = 0; b < cy; b++) g[a][b] += va * y[t][b];
            }
        return g;
    }

    /** A·B. */
    static double[][] mul(double[][] a, double[][] b) {
        int n = a.length, k = b.length, m = b[0].length;
        double[][] out = new double[n][m];
        for (int i = 0; i < n; i++)
            for (int t = 0; t < k; t++) {
                double v = a[i][t];
                for (int j = 0; j < m; j++) out[i][j] += v * b[t][j];
            }
        return out;
    }

    static double[][] transpose(double[][] a) {
        double[][] out = new double[a[0].length][a.length];
        for (int i = 0; i < a.length; i++) for (int j = 0; j < a[0].length; j++) out[j][i] = a[i][j];
        return out;
    }

    /** tr(A·B) for square A, B of one size. */
    static double traceProduct(double[][] a, double[][] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) for (int j = 0; j < a.length; j++) s += a[i][j] * b[j][i];
        return s;
    }
}
