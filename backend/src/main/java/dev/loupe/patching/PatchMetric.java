package dev.loupe.patching;

import dev.loupe.grad.Metric;
import dev.loupe.model.Tensor;
import dev.loupe.runtime.Engine;

/**
 * The scalar a patching sweep measures on each patched run's logits (DESIGN §8):
 * <ul>
 *   <li>{@code logit_diff:POS:A:B} — {@code logits[POS, A] − logits[POS, B]};</li>
 *   <li>{@code logprob:POS:A} and {@code prob:POS:A} — of token A at POS;</li>
 *   <li>{@code kl:POS} — KL(clean ‖ patched) of the next-token distributions at POS (0 on the clean run);</li>
 *   <li>{@code loss} — mean next-token cross-entropy of the run's own tokens.</li>
 * </ul>
 * A negative POS counts from the end. Over several prompt pairs a sweep reports the mean.
 */
public record PatchMetric(Kind kind, int pos, int a, int b) {
    public enum Kind { LOGIT_DIFF, LOGPROB, PROB, KL, LOSS }

    public static final String FORMS = "logit_diff:POS:A:B, logprob:POS:A, prob:POS:A, kl:POS or loss";

    public static PatchMetric parse(String spec) {
        String[] p = spec == null ? new String[]{""} : spec.trim().split(":");
        try {
            switch (p[0]) {
                case "logit_diff" -> {
                    if (p.length == 4) return new PatchMetric(Kind.LOGIT_DIFF, Integer.parseInt(p[1]), Integer.parseInt(p[2]), Integer.parseInt(p[3]));
                }
                case "logprob", "prob" -> {
                    if (p.length == 3)
                        return new PatchMetric(p[0].equals("prob") ? Kind.PROB : Kind.LOGPROB, Integer.parseInt(p[1]), Integer.parseInt(p[2]), 0);
                }
                case "kl" -> {
                    if (p.length <= 2) return new PatchMetric(Kind.KL, p.length == 2 ? Integer.parseInt(p[1]) : -1, 0, 0);
                }
                case "loss" -> {
                    if (p.length == 1) return new PatchMetric(Kind.LOSS, 0, 0, 0);
                }
                default -> { }
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("unknown metric '" + spec + "': use " + FORMS);
    }

    @Override public String toString() {
        return switch (kind) {
            case LOGIT_DIFF -> "logit_diff:" + pos + ":" + a + ":" + b;
            case LOGPROB -> "logprob:" + pos + ":" + a;
            case PROB -> "prob:" + pos + ":" + a;
            case KL -> "kl:" + pos;
            case LOSS -> "loss";
        };
    }

    /** The position the metric reads in a prompt of {@code len} tokens, or -1 for every position (the loss). */
    public int position(int len) {
        if (kind == Kind.LOSS) return -1;
        return pos < 0 ? len + pos : pos;
    }

    /** Checks the metric against a prompt length and vocabulary; the message names what is wrong. */
    public void check(int len, int vocab) {
        if (kind == Kind.LOSS) {
            if (len < 2) throw new IllegalArgumentException("the loss needs prompts of at least two tokens");
            return;
        }
        int at = position(len);
        if (at < 0 || at >= len)
            throw new IllegalArgumentException("metric position " + pos + " is outside the prompt of " + len + " tokens (use 0.." + (len - 1) + " or -1..-" + len + ")");
        if (kind != Kind.KL && (a < 0 || a >= vocab)) throw new IllegalArgumentException("metric token id " + a + " is outside the vocabulary of " + vocab);
        if (kind == Kind.LOGIT_DIFF && (b < 0 || b >= vocab)) throw new IllegalArgumentException("metric token id " + b + " is outside the vocabulary of " + vocab);
    }

    /**
     * The metric of row {@code row} of {@code logits} [rows, P, vocab], where P is 1 (the metric's position) or the
     * whole prompt (the loss).
     *
     * @param tokens      the run's tokens (the loss's targets)
     * @param cleanLogp   log-softmax of the clean run at the metric's position (for KL; else unused)
     */
    public double value(Tensor logits, int row, int[] tokens, float[] cleanLogp) {
        int positions = logits.dim(1), vocab = logits.dim(2);
        float[] d = logits.data();
        int base = row * positions * vocab;
        return switch (kind) {
            case LOGIT_DIFF -> d[base + a] - d[base + b];
            case LOGPROB -> d[base + a] - logSumExp(d, base, vocab);
            case PROB -> Math.exp(d[base + a] - logSumExp(d, base, vocab));
            case KL -> {
                double lse = logSumExp(d, base, vocab), kl = 0;
                for (int v = 0; v < vocab; v++) kl += Math.exp(cleanLogp[v]) * (cleanLogp[v] - (d[base + v] - lse));
                yield kl;
            }
            case LOSS -> {
                double sum = 0;
                for (int t = 0; t + 1 < positions; t++) {
                    int o = base + t * vocab;
                    sum += logSumExp(d, o, vocab) - d[o + tokens[t + 1]];
                }
                yield sum / (positions - 1);
            }
        };
    }

    /** log-softmax of {@code logits} [1, pos, vocab] at position {@code at}. */
    public static float[] logSoftmax(Tensor logits, int at) {
        int vocab = logits.dim(2);
        float[] d = logits.data();
        int base = at * vocab;
        double lse = logSumExp(d, base, vocab);
        float[] out = new float[vocab];
        for (int v = 0; v < vocab; v++) out[v] = (float) (d[base + v] - lse);
        return out;
    }

    static double logSumExp(float[] d, int off, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, d[off + i]);
        double s = 0;
        for (int i = 0; i < n; i++) s += Math.exp(d[off + i] - max);
        return max + Math.log(s);
    }

    /**
     * Ports of the gradient graph whose metric has this metric's gradient with respect to the logits at the run
     * (one prompt of {@code len} tokens). The probability uses the log-probability's ports: callers multiply by
     * the run's probability ({@link #gradientScale}).
     */
    Metric.Ports gradientPorts(int[] tokens, int vocab, float[] cleanLogp) {
        int len = tokens.length;
        return switch (kind) {
            case LOGIT_DIFF -> new Metric(Metric.Kind.LOGIT_DIFF, pos, a, b).ports(tokens, 1, len, vocab);
            case LOGPROB, PROB -> new Metric(Metric.Kind.LOGPROB, pos, a, 0).ports(tokens, 1, len, vocab);
            case LOSS -> Metric.loss().ports(tokens, 1, len, vocab);
            case KL -> {
                // KL(clean ‖ p) = const − Σ_v p_clean[v]·logit[v] + logsumexp(logit)
                Metric.Ports ports = Metric.Ports.zeros(1, len, vocab);
                int at = position(len);
                for (int v = 0; v < vocab; v++) {
                    ports.idx()[at * vocab + v] = v;
                    ports.val()[at * vocab + v] = (float) -Math.exp(cleanLogp[v]);
                }
                ports.lse()[at] = 1f;
                yield ports;
            }
        };
    }

    /** What the gradient of {@link #gradientPorts} is multiplied by: the run's probability of A for {@code prob}, else 1. */
    double gradientScale(double runValueOfLogprob) {
        return kind == Kind.PROB ? Math.exp(runValueOfLogprob) : 1;
    }

    /**
     * Parses a metric whose answer tokens may be left out ({@code logit_diff:POS}, {@code logprob:POS}, {@code prob:POS},
     * or just the name for POS -1): A defaults to the clean run's top token at POS and B to the corrupted run's.
     */
    public static PatchMetric resolve(String spec, Engine engine, PromptPair pair) {
        String s = spec == null || spec.isBlank() ? "logit_diff" : spec.trim();
        String[] p = s.split(":");
        int wanted = switch (p[0]) {
            case "logit_diff" -> 4;
            case "logprob", "prob" -> 3;
            default -> 0;
        };
        if (wanted == 0 || p.length >= wanted) return parse(s);
        int pos;
        try {
            pos = p.length > 1 ? Integer.parseInt(p[1]) : -1;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("unknown metric '" + spec + "': use " + FORMS);
        }
        int len = pair.clean().length, at = pos < 0 ? len + pos : pos;
        if (at < 0 || at >= len) throw new IllegalArgumentException("metric position " + pos + " is outside the prompt of " + len + " tokens");
        int a = top(engine, pair.clean(), at), b = top(engine, pair.corrupt(), at);
        return parse(p[0] + ":" + pos + ":" + a + (wanted == 4 ? ":" + b : ""));
    }

    private static int top(Engine engine, int[] tokens, int at) {
        Tensor logits = engine.logits(tokens);
        int vocab = logits.dim(2), best = 0;
        float[] d = logits.data();
        for (int v = 1; v < vocab; v++) if (d[at * vocab + v] > d[at * vocab + best]) best = v;
        return best;
    }
}
