package dev.loupe.circuits;

import dev.loupe.jobs.Progress;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * ACDC (Conmy et al. 2023): receivers in reverse topological order, each incoming edge tried in turn; an edge is
 * dropped (and stays corrupted) when dropping it worsens the metric by less than τ. The metric is the KL divergence of
 * the last position's distribution to the clean run, or the task metric (how much the logit difference falls).
 *
 * <p>The walk is sequential, but its evaluations are batched speculatively: the next few candidates of a receiver are
 * evaluated together against the current set; the first one that is dropped invalidates the ones after it, which are
 * evaluated again. The batch grows while nothing is dropped and shrinks when drops are frequent.
 */
public final class Acdc {
    public enum Objective {
        KL, METRIC;

        /** {@code kl} or {@code metric}. */
        public static Objective parse(String s) {
            return switch (s.trim().toLowerCase(java.util.Locale.ROOT)) {
                case "kl" -> KL;
                case "metric" -> METRIC;
                default -> throw new IllegalArgumentException("unknown ACDC objective '" + s + "': use kl or metric");
            };
        }
    }

    /** Kept edges and, for every edge, the damage measured when it was tried (0 when never read downstream). */
    public record Result(BitSet kept, float[] damage, int evaluations) {}

    private Acdc() {}

    public static Result run(CircuitAnalysis a, double tau, Objective objective, Progress progress) {
        EdgeGraph g = a.edges();
        BitSet kept = a.allEdges();
        float[] damage = new float[g.edgeCount()];
        double current = value(a.evaluate(List.of(kept), Progress.NONE).get(0), objective);
        int evaluations = 1, batch = 4, done = 0;
        for (int r = g.receiverCount() - 1; r >= 0; r--) {
            progress.checkCancelled();
            String node = EdgeGraph.nodeOfReceiver(g.receiver(r));
            List<Integer> candidates = new ArrayList<>();
            for (int u = g.upstream(r) - 1; u >= 0; u--) candidates.add(g.edgeIndex(u, r));
            if (!node.equals("logits") && !readDownstream(g, kept, node)) {
                for (int e : candidates) kept.clear(e);   // nothing reads this node any more: its inputs cannot matter
                done += candidates.size();
                continue;
            }
            while (!candidates.isEmpty()) {
                int n = Math.min(batch, candidates.size());
                List<BitSet> sets = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    BitSet s = (BitSet) kept.clone();
                    s.clear(candidates.get(i));
                    sets.add(s);
                }
                List<CircuitAnalysis.Evaluation> ev = a.evaluate(sets, Progress.NONE);
                evaluations += n;
                int tried = n;
                for (int i = 0; i < n; i++) {
                    double v = value(ev.get(i), objective);
                    int e = candidates.get(i);
                    damage[e] = (float) (v - current);
                    if (v - current < tau) {
                        kept.clear(e);
                        current = v;
                        tried = i + 1;
                        break;
                    }
                }
                candidates.subList(0, tried).clear();
                done += tried;
                batch = tried < n ? Math.max(1, tried) : Math.min(32, batch * 2);
                progress.report(Math.min(1.0, (double) done / g.edgeCount()), "ACDC: " + done + " of " + g.edgeCount() + " edges tried, " + kept.cardinality() + " kept");
            }
        }
        return new Result(kept, damage, evaluations);
    }

    /** Lower is better: the KL divergence, or the fall of the logit difference. */
    private static double value(CircuitAnalysis.Evaluation e, Objective objective) {
        return objective == Objective.KL ? e.kl() : -e.metric();
    }

    /** Whether a kept edge leaves {@code node} (as a sender). */
    private static boolean readDownstream(EdgeGraph g, BitSet kept, String node) {
        int s = g.senders().indexOf(node);
        if (s < 0) return false;
        for (int r = 0; r < g.receiverCount(); r++)
            if (s < g.upstream(r) && kept.get(g.edgeIndex(s, r))) return true;
        return false;
    }
}
