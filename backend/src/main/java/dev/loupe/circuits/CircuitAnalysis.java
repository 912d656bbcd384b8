package dev.loupe.circuits;

import dev.loupe.jobs.Progress;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * Circuit discovery on one dataset (DESIGN §10): the clean and corrupted runs are made once, then EAP and EAP-IG
 * scores and exact evaluations of edge sets reuse them. Scores are indexed by {@link EdgeGraph} edge number.
 */
public final class CircuitAnalysis {
    /** Bytes one call of exact evaluation may hold in its stacked sender differences (sets are chunked to fit). */
    static final long MIX_BUDGET_BYTES = 192L << 20;

    private final CircuitRunner runner;
    private final EdgeGraph edges;
    private final CircuitDataset data;
    private final int pairs, pos, vocab;
    private final float[] last, cleanEmbed, corruptEmbed, cleanSenders, corruptSenders, cleanLogProbs;
    private final long[] answer, wrong;
    private final double cleanMetric, corruptMetric;

    public CircuitAnalysis(CircuitRunner runner, CircuitDataset data) {
        this.runner = runner;
        this.edges = runner.edges();
        this.data = data;
        this.pairs = data.size();
        this.pos = data.maxLength();
        this.vocab = runner.config().dVocab();
        int[][] clean = new int[pairs][], corrupt = new int[pairs][];
        last = new float[pairs * pos];
        answer = new long[pairs];
        wrong = new long[pairs];
        for (int p = 0; p < pairs; p++) {
            CircuitDataset.Pair pr = data.pair(p);
            clean[p] = pr.clean();
            corrupt[p] = pr.corrupt();
            last[p * pos + pr.length() - 1] = 1;
            answer[p] = pr.answer();
            wrong[p] = pr.wrong();
        }
        cleanEmbed = runner.embed(clean, pos);
        corruptEmbed = runner.embed(corrupt, pos);
        CircuitRunner.Senders c = runner.senders(cleanEmbed, last, pairs, pos), k = runner.senders(corruptEmbed, last, pairs, pos);
        cleanSenders = c.senders();
        corruptSenders = k.senders();
        cleanMetric = metric(c.logitsLast(), 0);
        corruptMetric = metric(k.logitsLast(), 0);
        cleanLogProbs = logSoftmax(c.logitsLast());
    }

    public EdgeGraph edges() { return edges; }
    public CircuitDataset dataset() { return data; }

    /** Bytes held by an analysis of {@code pairs} prompts of {@code pos} tokens (the two runs' sender outputs and one batch). */
    public static long expectedBytes(dev.loupe.model.GptConfig c, int pairs, int pos) {
        long senders = new EdgeGraph(c).senderCount();
        return 2 * senders * pairs * pos * c.dModel() * 4 + MIX_BUDGET_BYTES;
    }
    public double cleanMetric() { return cleanMetric; }
    public double corruptMetric() { return corruptMetric; }

    /** EAP: one gradient at the clean run (= EAP-IG with one step). */
    public float[] eap() { return eapIg(1, Progress.NONE); }

    /**
     * EAP-IG over the inputs: mean over pairs of {@code Σ (a_u(corrupt) − a_u(clean))·∂metric/∂x_v}, the gradient
     * averaged over runs whose {@code input} is {@code corrupt + k/m·(clean − corrupt)}, k = 1…m.
     */
    public float[] eapIg(int steps, Progress progress) {
        if (steps < 1) throw new IllegalArgumentException("steps must be at least 1, got " + steps);
        float[] delta = new float[cleanSenders.length];
        for (int i = 0; i < delta.length; i++) delta[i] = corruptSenders[i] - cleanSenders[i];
        double[] sum = new double[edges.senderCount() * edges.receiverCount()];
        float[] embed = new float[cleanEmbed.length];
        for (int k = 1; k <= steps; k++) {
            progress.checkCancelled();
            float alpha = (float) k / steps;
            for (int i = 0; i < embed.length; i++) embed[i] = corruptEmbed[i] + alpha * (cleanEmbed[i] - corruptEmbed[i]);
            float[] s = runner.scores(embed, last, pairs, pos, answer, wrong, delta).scores();
            for (int i = 0; i < sum.length; i++) sum[i] += s[i];
            progress.report((double) k / steps, "gradient step " + k + " of " + steps);
        }
        float[] scores = new float[edges.edgeCount()];
        int nR = edges.receiverCount();
        for (int e = 0; e < scores.length; e++)
            scores[e] = (float) (sum[edges.senderOf(e) * nR + edges.receiverOf(e)] / ((double) steps * pairs));
        return scores;
    }

    /** The metric and the KL divergence from the clean run's last-position distribution, means over pairs. */
    public record Evaluation(double metric, double kl) {}

    /** Exact evaluation of edge sets ({@code kept} bit e = edge e in the set), batched several sets per run. */
    public List<Evaluation> evaluate(List<BitSet> kept, Progress progress) {
        int nU = edges.senderCount(), nR = edges.receiverCount();
        long perSet = (long) pairs * nU * pos * runner.config().dModel() * 4 * 3 + (long) pairs * vocab * 4;
        int chunk = (int) Math.max(1, Math.min(64, MIX_BUDGET_BYTES / Math.max(1, perSet)));
        List<Evaluation> out = new ArrayList<>();
        for (int from = 0; from < kept.size(); from += chunk) {
            progress.checkCancelled();
            int n = Math.min(chunk, kept.size() - from);
            float[] absent = new float[n * nU * nR];
            for (int s = 0; s < n; s++) {
                BitSet set = kept.get(from + s);
                for (int e = 0; e < edges.edgeCount(); e++)
                    if (!set.get(e)) absent[(s * nU + edges.senderOf(e)) * nR + edges.receiverOf(e)] = 1;
            }
            float[] logits = runner.mixed(cleanEmbed, last, pairs, pos, corruptSenders, absent, n);
            for (int s = 0; s < n; s++) out.add(new Evaluation(metric(logits, s), kl(logits, s)));
            progress.report((double) (from + n) / kept.size(), "evaluated " + (from + n) + " of " + kept.size() + " edge sets");
        }
        return out;
    }

    /** Normalised faithfulness (m(C) − m(∅)) / (m(all) − m(∅)). */
    public double faithfulness(double metric) { return (metric - corruptMetric) / (cleanMetric - corruptMetric); }

    public BitSet allEdges() {
        BitSet b = new BitSet(edges.edgeCount());
        b.set(0, edges.edgeCount());
        return b;
    }

    private double metric(float[] logits, int set) {
        double sum = 0;
        for (int p = 0; p < pairs; p++) {
            int o = (set * pairs + p) * vocab;
            sum += logits[o + (int) answer[p]] - logits[o + (int) wrong[p]];
        }
        return sum / pairs;
    }

    private double kl(float[] logits, int set) {
        double sum = 0;
        for (int p = 0; p < pairs; p++) {
            int o = (set * pairs + p) * vocab, c = p * vocab;
            double max = Double.NEGATIVE_INFINITY, z = 0;
            for (int v = 0; v < vocab; v++) max = Math.max(max, logits[o + v]);
            for (int v = 0; v < vocab; v++) z += Math.exp(logits[o + v] - max);
            double lse = max + Math.log(z), kl = 0;
            for (int v = 0; v < vocab; v++) {
                double lp = cleanLogProbs[c + v];
                kl += Math.exp(lp) * (lp - (logits[o + v] - lse));
            }
            sum += kl;
        }
        return Math.max(0, sum / pairs);
    }

    private float[] logSoftmax(float[] logits) {
        float[] out = new float[logits.length];
        for (int p = 0; p < pairs; p++) {
            int o = p * vocab;
            double max = Double.NEGATIVE_INFINITY, z = 0;
            for (int v = 0; v < vocab; v++) max = Math.max(max, logits[o + v]);
            for (int v = 0; v < vocab; v++) z += Math.exp(logits[o + v] - max);
            double lse = max + Math.log(z);
            for (int v = 0; v < vocab; v++) out[o + v] = (float) (logits[o + v] - lse);
        }
        return out;
    }
}
