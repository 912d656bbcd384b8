package dev.loupe.train;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

/**
 * AdamW (decoupled weight decay, bias-corrected moments, as PyTorch's {@code torch.optim.AdamW}) over plain float
 * arrays, with global gradient-norm clipping. Work is split into chunks updated in parallel.
 */
public final class AdamW {
    private static final int CHUNK = 1 << 18;

    /** One parameter tensor: values, gradient, moments and whether it decays. */
    public static final class Param {
        public final String name;
        public final float[] w, m, v;
        public float[] g;
        public final boolean decay;

        public Param(String name, float[] w, boolean decay) {
            this.name = name;
            this.w = w;
            this.m = new float[w.length];
            this.v = new float[w.length];
            this.decay = decay;
        }
    }

    private record Chunk(Param p, int from, int to) {}

    private final List<Param> params;
    private final List<Chunk> chunks = new ArrayList<>();
    private final double beta1, beta2, eps, weightDecay;

    public AdamW(List<Param> params, double beta1, double beta2, double eps, double weightDecay) {
        this.params = params;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        for (Param p : params)
            for (int i = 0; i < p.w.length; i += CHUNK) chunks.add(new Chunk(p, i, Math.min(p.w.length, i + CHUNK)));
    }

    public List<Param> params() { return params; }

    /** The global L2 norm of the gradients. */
    public double gradNorm() {
        return Math.sqrt(IntStream.range(0, chunks.size()).parallel().mapToDouble(c -> {
            Chunk k = chunks.get(c);
            double s = 0;
            for (int i = k.from; i < k.to; i++) s += (double) k.p.g[i] * k.p.g[i];
            return s;
        }).sum());
    }

    /**
     * One update at 1-based step {@code t}: gradients scaled to norm {@code clip} when larger (0 = no clipping).
     *
     * @return the gradient norm before clipping
     */
    public double step(long t, double lr, double clip) {
        double norm = gradNorm();
        float scale = clip > 0 && norm > clip ? (float) (clip / (norm + 1e-6)) : 1f;
        float b1 = (float) beta1, b2 = (float) beta2;
        float c1 = (float) (1 - Math.pow(beta1, t)), c2 = (float) (1 - Math.pow(beta2, t));
        float stepSize = (float) (lr / c1), sqrtC2 = (float) Math.sqrt(c2), e = (float) eps;
        float decay = (float) (1 - lr * weightDecay);
        IntStream.range(0, chunks.size()).parallel().forEach(c -> {
            Chunk k = chunks.get(c);
            float[] w = k.p.w, g = k.p.g, m = k.p.m, v = k.p.v;
            boolean dec = k.p.decay && weightDecay != 0;
            for (int i = k.from; i < k.to; i++) {
                float gi = g[i] * scale;
                float mi = m[i] = b1 * m[i] + (1 - b1) * gi;
                float vi = v[i] = b2 * v[i] + (1 - b2) * gi * gi;
                float wi = dec ? w[i] * decay : w[i];
                w[i] = wi - stepSize * mi / ((float) Math.sqrt(vi) / sqrtC2 + e);
            }
        });
        return norm;
    }
}
