package dev.loupe.weights;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnx.proto.OnnxMl.TensorProto.DataType;
import dev.loupe.compiler.GraphBuilder;
import dev.loupe.runtime.OrtRuntime;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.util.List;
import java.util.Map;

/**
 * A vocabulary-sized table in double ([n][d], e.g. the processed W_E), held once in native memory and multiplied
 * by small [d][r] matrices on ONNX Runtime's double MatMul: a head's four d_vocab × d_head factors took 256–321 ms as a
 * JVM loop on two shared cores and take 63–181 ms here. The product is exact to double rounding (only the order
 * of the d-term sums differs from a plain loop).
 */
public final class VocabTable {
    private final int n, d;
    private final DoubleBuffer flat; // row-major [n][d], direct, so ONNX Runtime reads it without a copy

    private VocabTable(int n, int d) {
        this.n = n;
        this.d = d;
        flat = ByteBuffer.allocateDirect(Math.multiplyExact(n * 8, d)).order(ByteOrder.nativeOrder()).asDoubleBuffer();
    }

    /** Writes row by row: {@code row.fill(t, out)} sets row t. */
    public interface Rows {
        void fill(int t, double[] out);
    }

    public static VocabTable of(int n, int d, Rows rows) {
        VocabTable v = new VocabTable(n, d);
        double[] row = new double[d];
        for (int t = 0; t < n; t++) {
            java.util.Arrays.fill(row, 0);
            rows.fill(t, row);
            v.flat.put(t * d, row);
        }
        return v;
    }

    public int rows() { return n; }
    public int width() { return d; }

    /** Row t, copied. */
    public double[] row(int t) {
        double[] out = new double[d];
        flat.get(t * d, out);
        return out;
    }

    /**
     * This table times each of {@code ys} (each [d][r_i]) in one product: the results [n][r_i], in order. Several
     * small right-hand sides share one pass over the table.
     */
    public double[][][] times(double[][]... ys) {
        int width = 0;
        for (double[][] y : ys) {
            if (y.length != d) throw new IllegalArgumentException("a right-hand side has " + y.length + " rows, the table " + d + " columns");
            width += y[0].length;
        }
        DoubleBuffer right = DoubleBuffer.allocate(d * width);
        for (int i = 0; i < d; i++) for (double[][] y : ys) right.put(y[i]);
        right.rewind();
        DoubleBuffer product = ByteBuffer.allocateDirect(Math.multiplyExact(n * 8, width)).order(ByteOrder.nativeOrder()).asDoubleBuffer();
        var env = OrtRuntime.env(THREADS);
        try (OnnxTensor x = OnnxTensor.createTensor(env, flat, new long[]{n, d});
             OnnxTensor y = OnnxTensor.createTensor(env, right, new long[]{d, width});
             OnnxTensor z = OnnxTensor.createTensor(env, product, new long[]{n, width});
             OrtSession.Result ignored = matmul().run(Map.of("x", x, "y", y), Map.of("z", z))) {
            double[][][] out = new double[ys.length][n][];
            for (int t = 0; t < n; t++) {
                int off = t * width;
                for (int k = 0; k < ys.length; k++) {
                    double[] row = new double[ys[k][0].length];
                    product.get(off, row);
                    off += row.length;
                    out[k][t] = row;
                }
            }
            return out;
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime's MatMul failed: " + e.getMessage(), e);
        }
    }

    /** Threads for ONNX Runtime if this is its first use in the process (else its shared pool's setting holds). */
    private static final int THREADS = Runtime.getRuntime().availableProcessors();

    private static volatile OrtSession matmul;

    /** One session for every table: Z = X·Y in double, any sizes. */
    private static OrtSession matmul() throws OrtException {
        OrtSession s = matmul;
        if (s == null) {
            synchronized (VocabTable.class) {
                if (matmul == null) {
                    GraphBuilder g = new GraphBuilder("vocab_table_times");
                    g.input("x", DataType.DOUBLE, "n", "d");
                    g.input("y", DataType.DOUBLE, "d", "r");
                    g.op("MatMul", "z", List.of("x", "y"));
                    g.output("z", DataType.DOUBLE, "n", "r");
                    matmul = OrtRuntime.session(g.build().toByteArray(), THREADS);
                }
                s = matmul;
            }
        }
        return s;
    }
}
