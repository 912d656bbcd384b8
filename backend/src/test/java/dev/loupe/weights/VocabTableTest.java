package dev.loupe.weights;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The table's products on ONNX Runtime equal the plain double loop (to double rounding), each right-hand side in its place. */
class VocabTableTest {
    static double[][] random(Random rnd, int n, int m) {
        double[][] x = new double[n][m];
        for (double[] row : x) for (int j = 0; j < m; j++) row[j] = rnd.nextGaussian();
        return x;
    }

    static double[][] loop(double[][] x, double[][] y) {
        double[][] out = new double[x.length][y[0].length];
        for (int i = 0; i < x.length; i++)
            for (int a = 0; a < y.length; a++)
                for (int b = 0; b < y[0].length; b++) out[i][b] += x[i][a] * y[a][b];
        return out;
    }

    @Test
    void productsEqualThePlainLoop() {
        Random rnd = new Random(3);
        int n = 5003, d = 48; // not a multiple of any block size
        double[][] rows = random(rnd, n, d);
        VocabTable t = VocabTable.of(n, d, (i, out) -> System.arraycopy(rows[i], 0, out, 0, d));
        assertEquals(n, t.rows());
        assertArrayEquals(rows[17], t.row(17));
        double[][] y1 = random(rnd, d, 7), y2 = random(rnd, d, 13);
        double[][][] both = t.times(y1, y2);
        double[][][] want = {loop(rows, y1), loop(rows, y2)};
        for (int k = 0; k < 2; k++) {
            assertEquals(n, both[k].length);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < want[k][i].length; j++)
                    assertEquals(want[k][i][j], both[k][i][j], 1e-12 * (1 + Math.abs(want[k][i][j])), "rhs " + k + " [" + i + "][" + j + "]");
        }
        // one right-hand side alone gives the same as within a pair
        double[][] alone = t.times(y2)[0];
        for (int i = 0; i < n; i += 97) assertArrayEquals(want[1][i], alone[i], 1e-12 * 10);
    }

    @Test
    void aRightHandSideOfTheWrongHeightIsRefused() {
        VocabTable t = VocabTable.of(10, 4, (i, out) -> out[0] = i);
        assertThrows(IllegalArgumentException.class, () -> t.times(new double[3][2]));
    }
}
