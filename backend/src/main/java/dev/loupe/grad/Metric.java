package dev.loupe.grad;

import java.util.Arrays;

/**
 * A scalar metric of a model's logits, as Loupe's gradient graphs take it ({@link GradGraph}):
 * <ul>
 *   <li>{@code loss}: mean next-token cross-entropy, positions 0..T-2 predicting tokens 1..T-1;</li>
 *   <li>{@code logit_diff:POS:A:B}: {@code logits[POS, A] - logits[POS, B]};</li>
 *   <li>{@code logprob:POS:A}: {@code log_softmax(logits[POS])[A]}.</li>
 * </ul>
 * A negative {@code POS} counts from the end ({@code -1} is the last position). Over a batch the metric is the
 * mean over rows.
 */
public record Metric(Kind kind, int pos, int a, int b) {
    public enum Kind { LOSS, LOGIT_DIFF, LOGPROB }

    /** Values for the metric ports of a gradient graph, for a [batch, pos] input with {@code k} indices per position. */
    public record Ports(int batch, int len, int k, long[] idx, float[] val, float[] lse) {
        public static Ports zeros(int batch, int len, int k) {
            int n = batch * len;
            return new Ports(batch, len, k, new long[n * k], new float[n * k], new float[n]);
        }
    }

    public static Metric loss() { return new Metric(Kind.LOSS, 0, 0, 0); }

    /** Parses {@code loss}, {@code logit_diff:POS:A:B} or {@code logprob:POS:A}. */
    public static Metric parse(String spec) {
        String[] p = spec.trim().split(":");
        try {
            switch (p[0]) {
                case "loss" -> {
                    if (p.length == 1) return loss();
                }
                case "logit_diff" -> {
                    if (p.length == 4) return new Metric(Kind.LOGIT_DIFF, Integer.parseInt(p[1]), Integer.parseInt(p[2]), Integer.parseInt(p[3]));
                }
                case "logprob" -> {
                    if (p.length == 3) return new Metric(Kind.LOGPROB, Integer.parseInt(p[1]), Integer.parseInt(p[2]), 0);
                }
                default -> { }
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("unknown metric '" + spec + "': use loss, logit_diff:POS:A:B or logprob:POS:A");
    }

    @Override public String toString() {
        return switch (kind) {
            case LOSS -> "loss";
            case LOGIT_DIFF -> "logit_diff:" + pos + ":" + a + ":" + b;
            case LOGPROB -> "logprob:" + pos + ":" + a;
        };
    }

    /** Ports for {@code batch} rows of {@code len} tokens each ({@code tokens} row-major). */
    public Ports ports(int[] tokens, int batch, int len, int vocab) {
        if (tokens.length != batch * len) throw new IllegalArgumentException("expected " + batch * len + " tokens, got " + tokens.length);
        if (kind == Kind.LOSS) {
            if (len < 2) throw new IllegalArgumentException("the loss needs at least two tokens");
            int[] targets = new int[tokens.length];
            for (int r = 0; r < batch; r++)
                for (int t = 0; t < len; t++) targets[r * len + t] = t + 1 < len ? tokens[r * len + t + 1] : -1;
            return crossEntropy(targets, batch, len, false);
        }
        int at = pos < 0 ? len + pos : pos;
        if (at < 0 || at >= len) throw new IllegalArgumentException("position " + pos + " is outside a prompt of " + len + " tokens");
        checkToken(a, vocab);
        if (kind == Kind.LOGIT_DIFF) checkToken(b, vocab);
        Ports ports = Ports.zeros(batch, len, 2);
        float w = 1f / batch;
        for (int r = 0; r < batch; r++) {
            int n = r * len + at;
            ports.idx()[2 * n] = a;
            ports.val()[2 * n] = w;
            if (kind == Kind.LOGIT_DIFF) {
                ports.idx()[2 * n + 1] = b;
                ports.val()[2 * n + 1] = -w;
            } else {
                ports.lse()[n] = -w;
            }
        }
        return ports;
    }

    private static void checkToken(int id, int vocab) {
        if (id < 0 || id >= vocab) throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + vocab);
    }

    /**
     * Cross-entropy against {@code targets} ({@code -1} = no target): the mean over targets, or with {@code sum}
     * the sum (for evaluations that average over many batches).
     */
    public static Ports crossEntropy(int[] targets, int batch, int len, boolean sum) {
        Ports ports = Ports.zeros(batch, len, 1);
        long count = Arrays.stream(targets).filter(t -> t >= 0).count();
        float w = sum ? 1f : count == 0 ? 0f : 1f / count;
        for (int n = 0; n < targets.length; n++) {
            if (targets[n] < 0) continue;
            ports.idx()[n] = targets[n];
            ports.val()[n] = -w;
            ports.lse()[n] = w;
        }
        return ports;
    }
}
