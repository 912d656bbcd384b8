package dev.loupe.circuits;

import dev.loupe.jobs.Progress;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.TreeSet;

/**
 * Faithfulness curves: exact evaluation of the top-n edges by |score| for n over a log grid, and of a greedy
 * connected selection that grows from the logits (always the best-scoring edge into a node already in the circuit).
 */
public final class Faithfulness {
    public record Point(int n, double metric, double faithfulness) {}
    public record Curves(List<Point> topN, List<Point> greedy) {}

    private Faithfulness() {}

    /** 1, 2, 3, 5, 10, 20, 30, 50, … up to {@code max}, and {@code max} itself. */
    public static List<Integer> grid(int max) {
        TreeSet<Integer> g = new TreeSet<>();
        for (long base = 1; base <= max; base *= 10)
            for (int m : new int[]{1, 2, 3, 5}) if (base * m <= max) g.add((int) (base * m));
        g.add(max);
        return new ArrayList<>(g);
    }

    /** Edge numbers by decreasing |score|. */
    public static int[] rankByMagnitude(float[] scores) {
        return java.util.stream.IntStream.range(0, scores.length).boxed()
                .sorted(Comparator.comparingDouble((Integer e) -> -Math.abs(scores[e])).thenComparingInt(e -> e))
                .mapToInt(Integer::intValue).toArray();
    }

    /** The greedy order: from the logits, repeatedly the largest-|score| edge into a node already reached. */
    public static int[] greedyOrder(EdgeGraph g, float[] scores) {
        PriorityQueue<Integer> frontier = new PriorityQueue<>(Comparator.comparingDouble((Integer e) -> -Math.abs(scores[e])).thenComparingInt(e -> e));
        boolean[] reached = new boolean[g.senderCount()];
        addInto(g, "logits", frontier);
        int[] order = new int[g.edgeCount()];
        int n = 0;
        while (!frontier.isEmpty()) {
            int e = frontier.poll();
            order[n++] = e;
            int s = g.senderOf(e);
            if (!reached[s]) {
                reached[s] = true;
                addInto(g, g.sender(s), frontier);
            }
        }
        return java.util.Arrays.copyOf(order, n);
    }

    private static void addInto(EdgeGraph g, String node, PriorityQueue<Integer> frontier) {
        for (int r = 0; r < g.receiverCount(); r++)
            if (EdgeGraph.nodeOfReceiver(g.receiver(r)).equals(node))
                for (int u = 0; u < g.upstream(r); u++) frontier.add(g.edgeIndex(u, r));
    }

    /** The first {@code n} edges of {@code order}. */
    public static BitSet prefix(int[] order, int n) {
        BitSet b = new BitSet();
        for (int i = 0; i < Math.min(n, order.length); i++) b.set(order[i]);
        return b;
    }

    public static Curves curves(CircuitAnalysis a, float[] scores, Progress progress) {
        List<Integer> grid = grid(a.edges().edgeCount());
        int[] top = rankByMagnitude(scores), greedy = greedyOrder(a.edges(), scores);
        List<BitSet> sets = new ArrayList<>();
        for (int n : grid) sets.add(prefix(top, n));
        List<Integer> greedyGrid = grid.stream().filter(n -> n <= greedy.length).toList();
        for (int n : greedyGrid) sets.add(prefix(greedy, n));
        List<CircuitAnalysis.Evaluation> ev = a.evaluate(sets, progress);
        List<Point> t = new ArrayList<>(), gr = new ArrayList<>();
        for (int i = 0; i < grid.size(); i++) t.add(point(a, grid.get(i), ev.get(i)));
        for (int i = 0; i < greedyGrid.size(); i++) gr.add(point(a, greedyGrid.get(i), ev.get(grid.size() + i)));
        return new Curves(t, gr);
    }

    private static Point point(CircuitAnalysis a, int n, CircuitAnalysis.Evaluation e) {
        return new Point(n, e.metric(), a.faithfulness(e.metric()));
    }
}
