package dev.loupe.circuits;

import dev.loupe.model.GptConfig;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The edge graph of circuit discovery (DESIGN §10, EAP-IG's naming). Senders are {@code input}, every head
 * {@code a{L}.h{H}} and every MLP {@code m{L}}; receivers are each head's own copies of its residual input
 * {@code a{L}.h{H}<q|k|v>}, each MLP's copy {@code m{L}} and {@code logits}. Every sender feeds every receiver
 * downstream of it; {@code m{L}} also reads the heads of its own layer.
 *
 * <p>Orders (the compiled graphs rely on them): senders are {@code input}, then per layer its heads and its MLP;
 * receivers are, per layer, the q copies of its heads, the k copies, the v copies, its MLP, and last {@code logits}.
 * Edges are numbered receiver by receiver, senders in order within a receiver.
 */
public final class EdgeGraph {
    private final GptConfig config;
    private final List<String> senders = new ArrayList<>(), receivers = new ArrayList<>();
    private final int[] upstream;          // receiver -> number of senders it reads (a prefix of the sender order)
    private final int[] firstEdge;         // receiver -> index of its first edge
    private final Map<String, Integer> senderIndex = new HashMap<>(), receiverIndex = new HashMap<>();
    private final int edges;

    public EdgeGraph(GptConfig config) {
        this.config = config;
        int nh = config.nHeads();
        senders.add("input");
        List<Integer> up = new ArrayList<>();
        for (int l = 0; l < config.nLayers(); l++) {
            int before = senders.size();
            for (String part : new String[]{"q", "k", "v"})
                for (int h = 0; h < nh; h++) {
                    receivers.add(head(l, h) + "<" + part + ">");
                    up.add(before);
                }
            for (int h = 0; h < nh; h++) senders.add(head(l, h));
            if (!config.attnOnly()) {
                receivers.add(mlp(l));
                up.add(senders.size());
                senders.add(mlp(l));
            }
        }
        receivers.add("logits");
        up.add(senders.size());
        upstream = up.stream().mapToInt(Integer::intValue).toArray();
        firstEdge = new int[receivers.size() + 1];
        for (int r = 0; r < receivers.size(); r++) firstEdge[r + 1] = firstEdge[r] + upstream[r];
        edges = firstEdge[receivers.size()];
        for (int i = 0; i < senders.size(); i++) senderIndex.put(senders.get(i), i);
        for (int i = 0; i < receivers.size(); i++) receiverIndex.put(receivers.get(i), i);
    }

    public static String head(int layer, int head) { return "a" + layer + ".h" + head; }
    public static String mlp(int layer) { return "m" + layer; }

    public GptConfig config() { return config; }
    public List<String> senders() { return List.copyOf(senders); }
    public List<String> receivers() { return List.copyOf(receivers); }
    public int senderCount() { return senders.size(); }
    public int receiverCount() { return receivers.size(); }
    public int edgeCount() { return edges; }

    /** Number of receivers of layer {@code l} (3 per head, plus its MLP). */
    public int receiversPerLayer() { return 3 * config.nHeads() + (config.attnOnly() ? 0 : 1); }
    /** Senders before layer {@code l} (input and every head and MLP of earlier layers). */
    public int sendersBefore(int l) { return 1 + l * (config.nHeads() + (config.attnOnly() ? 0 : 1)); }

    /** Number of senders receiver {@code r} reads: the first {@code upstream(r)} senders. */
    public int upstream(int r) { return upstream[r]; }
    public int edgeIndex(int sender, int receiver) {
        if (sender >= upstream[receiver]) throw new IllegalArgumentException(senders.get(sender) + " does not feed " + receivers.get(receiver));
        return firstEdge[receiver] + sender;
    }
    public int senderOf(int edge) { return edge - firstEdge[receiverOf(edge)]; }
    public int receiverOf(int edge) {
        int lo = 0, hi = receivers.size() - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (firstEdge[mid] <= edge) lo = mid; else hi = mid - 1;
        }
        return lo;
    }
    public String sender(int i) { return senders.get(i); }
    public String receiver(int i) { return receivers.get(i); }
    public String edgeName(int edge) { return senders.get(senderOf(edge)) + "->" + receivers.get(receiverOf(edge)); }

    /** The node a receiver belongs to: {@code a1.h3<k>} → {@code a1.h3}; {@code m0} and {@code logits} are their own. */
    public static String nodeOfReceiver(String receiver) {
        int i = receiver.indexOf('<');
        return i < 0 ? receiver : receiver.substring(0, i);
    }

    /** The edge index of {@code SENDER->RECEIVER}; throws with a message naming the problem. */
    public int parseEdge(String name) {
        int arrow = name.indexOf("->");
        if (arrow < 0) throw new IllegalArgumentException("edge '" + name + "' is not of the form SENDER->RECEIVER");
        Integer s = senderIndex.get(name.substring(0, arrow).trim()), r = receiverIndex.get(name.substring(arrow + 2).trim());
        if (s == null) throw new IllegalArgumentException("edge '" + name + "': unknown sender '" + name.substring(0, arrow).trim() + "'");
        if (r == null) throw new IllegalArgumentException("edge '" + name + "': unknown receiver '" + name.substring(arrow + 2).trim() + "'");
        if (s >= upstream[r]) throw new IllegalArgumentException("edge '" + name + "': " + senders.get(s) + " is not upstream of " + receivers.get(r));
        return firstEdge[r] + s;
    }

    public int senderIndex(String name) {
        Integer i = senderIndex.get(name);
        if (i == null) throw new IllegalArgumentException("unknown sender '" + name + "'");
        return i;
    }
    public int receiverIndex(String name) {
        Integer i = receiverIndex.get(name);
        if (i == null) throw new IllegalArgumentException("unknown receiver '" + name + "'");
        return i;
    }
}
