package dev.loupe.patching;

import dev.loupe.hooks.HookPoints;
import dev.loupe.model.GptConfig;
import dev.loupe.runtime.Selector;

import java.util.ArrayList;
import java.util.List;

/**
 * What a sweep patches, one index at a time, with TransformerLens's names and result shapes (DESIGN §8):
 * <ul>
 *   <li>{@code resid_pre}, {@code resid_mid}, {@code resid_post}, {@code attn_out}, {@code mlp_out} → [layer, pos];</li>
 *   <li>{@code head_out} ({@code attn.hook_z}), {@code head_q}, {@code head_k}, {@code head_v}, {@code head_pattern}:
 *       one head at every position → [layer, head]; with {@code _by_pos} one head at one (query) position → [layer, pos, head];</li>
 *   <li>{@code neurons:L:P} → [d_mlp] (one {@code mlp.hook_post} neuron of layer L at position P, negative from the end);
 *       {@code neurons:L} → [pos, d_mlp];</li>
 *   <li>path patching from every sender head → [layer, head]: {@code path:logits} (sender → the logits directly) or
 *       {@code path:q:L.H,L.H}, {@code path:k:…}, {@code path:v:…} (sender → those receiver heads' query, key or value
 *       input), every other head frozen ({@link ActivationPatching}); {@code path_mlp:…} the same from every sender
 *       MLP ({@code hook_mlp_out}) → [layer]; a trailing {@code :frozen} freezes every other MLP's output too (by
 *       default the MLPs are recomputed).</li>
 * </ul>
 */
public record Sweep(String name, Kind kind, String hook, boolean byPos, int layer, int pos) {
    public enum Kind { LAYER_POS, HEAD, NEURONS_AT, NEURONS, PATH }

    /** One patched index: the hook of a layer and which of its elements (-1: every one along that axis). */
    public record Site(int layer, String hook, int pos, int head, int neuron) {
        Selector selector(int row) {
            Selector s = Selector.rows(row);
            if (pos >= 0) s = s.withPositions(pos);
            if (head >= 0) s = s.withHeads(head);
            if (neuron >= 0) s = s.withFeatures(neuron);
            return s;
        }
    }

    public static final List<String> LAYER_POS_SWEEPS = List.of("resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out");
    public static final List<String> HEAD_SWEEPS = List.of("head_out", "head_q", "head_k", "head_v", "head_pattern");

    /** Every sweep name a model supports, neurons of layer 0 as the example of their family. */
    public static List<String> names(GptConfig c) {
        List<String> out = new ArrayList<>();
        for (String s : LAYER_POS_SWEEPS) if (!c.attnOnly() || !(s.equals("resid_mid") || s.equals("mlp_out"))) out.add(s);
        out.addAll(HEAD_SWEEPS);
        for (String s : HEAD_SWEEPS) out.add(s + "_by_pos");
        return out;
    }

    private static String localHook(String sweep) {
        return switch (sweep) {
            case "resid_pre" -> "hook_resid_pre";
            case "resid_mid" -> "hook_resid_mid";
            case "resid_post" -> "hook_resid_post";
            case "attn_out" -> "hook_attn_out";
            case "mlp_out" -> "hook_mlp_out";
            case "head_out" -> "attn.hook_z";
            case "head_q" -> "attn.hook_q";
            case "head_k" -> "attn.hook_k";
            case "head_v" -> "attn.hook_v";
            case "head_pattern" -> "attn.hook_pattern";
            default -> null;
        };
    }

    /** Where a path-patching sweep's paths end: the logits, or the q/k/v input ({@code input}) of some heads. */
    public record Receivers(String input, List<int[]> heads) {
        public boolean logits() { return input.equals("logits"); }

        /** The last layer whose input a sender can change: n_layers for the logits, else the last receiver's layer. */
        public int lastLayer(GptConfig c) {
            return logits() ? c.nLayers() : heads.stream().mapToInt(h -> h[0]).max().orElse(0);
        }
    }

    /** Whether a path sweep's senders are MLPs ({@code path_mlp:}) rather than heads. */
    public boolean mlpSenders() { return kind == Kind.PATH && hook.equals("hook_mlp_out"); }

    /** Whether a path sweep freezes the MLPs to the base run (a trailing {@code :frozen}) rather than recomputing them. */
    public boolean frozenMlps() { return kind == Kind.PATH && name.endsWith(":frozen"); }

    /** The receivers of a {@code path:} sweep (null for other sweeps). */
    public Receivers receivers() {
        if (kind != Kind.PATH) return null;
        String[] p = (frozenMlps() ? name.substring(0, name.length() - ":frozen".length()) : name).split(":");
        if (p[1].equals("logits")) return new Receivers("logits", List.of());
        List<int[]> heads = new ArrayList<>();
        for (String r : p[2].split(",")) {
            String[] lh = r.trim().split("\\.");
            heads.add(new int[]{Integer.parseInt(lh[0]), Integer.parseInt(lh[1])});
        }
        return new Receivers(p[1], heads);
    }

    private static Sweep parsePath(String n, GptConfig c) {
        String usage = "path sweeps are path:logits or path:q|k|v:LAYER.HEAD[,LAYER.HEAD…] (the receiver heads), from sender heads, "
                + "or the same as path_mlp:… from sender MLPs, each optionally ending :frozen (the other MLPs frozen)";
        boolean frozen = n.endsWith(":frozen");
        String[] p = (frozen ? n.substring(0, n.length() - ":frozen".length()) : n).split(":", -1);
        boolean mlp = p[0].equals("path_mlp");
        if ((mlp || frozen) && c.attnOnly())
            throw new IllegalArgumentException("sweep '" + n + "': this attention-only model has no MLPs to send from or freeze");
        String sender = mlp ? "hook_mlp_out" : "attn.hook_z", suffix = frozen ? ":frozen" : "";
        if (p.length == 2 && p[1].equals("logits")) return new Sweep(p[0] + ":logits" + suffix, Kind.PATH, sender, false, -1, 0);
        if (p.length != 3 || !List.of("q", "k", "v").contains(p[1]) || p[2].isBlank())
            throw new IllegalArgumentException("unknown sweep '" + n + "': " + usage);
        List<String> canon = new ArrayList<>();
        for (String r : p[2].split(",")) {
            String[] lh = r.trim().split("\\.");
            int l, h;
            try {
                if (lh.length != 2) throw new NumberFormatException();
                l = Integer.parseInt(lh[0]);
                h = Integer.parseInt(lh[1]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("sweep '" + n + "': receiver '" + r.trim() + "' is not LAYER.HEAD; " + usage);
            }
            if (l < 0 || l >= c.nLayers() || h < 0 || h >= c.nHeads())
                throw new IllegalArgumentException("sweep '" + n + "': receiver head " + l + "." + h + " is outside layers 0.." + (c.nLayers() - 1)
                        + " and heads 0.." + (c.nHeads() - 1));
            if (l == 0) throw new IllegalArgumentException("sweep '" + n + "': receiver head " + l + "." + h + " is in layer 0, where no head sends to it");
            if (!canon.contains(l + "." + h)) canon.add(l + "." + h);
        }
        return new Sweep(p[0] + ":" + p[1] + ":" + String.join(",", canon) + suffix, Kind.PATH, sender, false, -1, 0);
    }

    /** Parses a sweep name for a model; the message of a bad name lists the good ones. */
    public static Sweep parse(String name, GptConfig c) {
        String n = name == null ? "" : name.trim();
        if (n.startsWith("path:") || n.startsWith("path_mlp:")) return parsePath(n, c);
        if (n.startsWith("neurons:")) {
            if (c.attnOnly()) throw new IllegalArgumentException("sweep '" + n + "': this attention-only model has no MLP neurons");
            String[] p = n.split(":");
            try {
                if (p.length == 2 || p.length == 3) {
                    int layer = Integer.parseInt(p[1]);
                    if (layer < 0 || layer >= c.nLayers())
                        throw new IllegalArgumentException("sweep '" + n + "': layer " + layer + " is outside 0.." + (c.nLayers() - 1));
                    if (p.length == 2) return new Sweep(n, Kind.NEURONS, "mlp.hook_post", false, layer, 0);
                    return new Sweep(n, Kind.NEURONS_AT, "mlp.hook_post", false, layer, Integer.parseInt(p[2]));
                }
            } catch (NumberFormatException e) {
                // reported below
            }
            throw new IllegalArgumentException("unknown sweep '" + n + "': neurons are neurons:LAYER or neurons:LAYER:POS");
        }
        boolean byPos = n.endsWith("_by_pos");
        String base = byPos ? n.substring(0, n.length() - "_by_pos".length()) : n;
        String local = localHook(base);
        boolean heads = HEAD_SWEEPS.contains(base);
        if (local == null || (byPos && !heads) || !names(c).contains(n))
            throw new IllegalArgumentException("unknown sweep '" + n + "' for this model: use one of " + String.join(", ", names(c))
                    + ", neurons:LAYER, neurons:LAYER:POS, path:logits or path:q|k|v:LAYER.HEAD,…");
        return new Sweep(n, heads ? Kind.HEAD : Kind.LAYER_POS, local, byPos, -1, 0);
    }

    /** The position a {@code neurons:L:P} sweep patches in a prompt of {@code len} tokens. */
    int neuronPos(int len) { return pos < 0 ? len + pos : pos; }

    /** Checks the sweep against a prompt length. */
    public void check(int len) {
        if (kind == Kind.NEURONS_AT && (neuronPos(len) < 0 || neuronPos(len) >= len))
            throw new IllegalArgumentException("sweep '" + name + "': position " + pos + " is outside the prompt of " + len + " tokens");
    }

    public List<String> axes() {
        return switch (kind) {
            case LAYER_POS -> List.of("layer", "pos");
            case HEAD -> byPos ? List.of("layer", "pos", "head") : List.of("layer", "head");
            case PATH -> mlpSenders() ? List.of("layer") : List.of("layer", "head");
            case NEURONS_AT -> List.of("neuron");
            case NEURONS -> List.of("pos", "neuron");
        };
    }

    public int[] shape(GptConfig c, int len) {
        return switch (kind) {
            case LAYER_POS -> new int[]{c.nLayers(), len};
            case HEAD -> byPos ? new int[]{c.nLayers(), len, c.nHeads()} : new int[]{c.nLayers(), c.nHeads()};
            case PATH -> mlpSenders() ? new int[]{c.nLayers()} : new int[]{c.nLayers(), c.nHeads()};
            case NEURONS_AT -> new int[]{c.dMlp()};
            case NEURONS -> new int[]{len, c.dMlp()};
        };
    }

    /** The layers whose hook this sweep patches. */
    public List<Integer> layers(GptConfig c) {
        if (kind == Kind.NEURONS || kind == Kind.NEURONS_AT) return List.of(layer);
        List<Integer> out = new ArrayList<>();
        for (int l = 0; l < c.nLayers(); l++) out.add(l);
        return out;
    }

    public String hookName(int l) { return HookPoints.name(l, hook); }

    /** Every site in row-major order of {@link #shape}, so site i's value is element i of the result. */
    public List<Site> sites(GptConfig c, int len) {
        List<Site> out = new ArrayList<>();
        switch (kind) {
            case LAYER_POS -> {
                for (int l = 0; l < c.nLayers(); l++) for (int p = 0; p < len; p++) out.add(new Site(l, hookName(l), p, -1, -1));
            }
            case HEAD, PATH -> {
                if (mlpSenders()) for (int l = 0; l < c.nLayers(); l++) out.add(new Site(l, hookName(l), -1, -1, -1));
                else for (int l = 0; l < c.nLayers(); l++) {
                    if (byPos) for (int p = 0; p < len; p++) for (int h = 0; h < c.nHeads(); h++) out.add(new Site(l, hookName(l), p, h, -1));
                    else for (int h = 0; h < c.nHeads(); h++) out.add(new Site(l, hookName(l), -1, h, -1));
                }
            }
            case NEURONS_AT -> {
                for (int n = 0; n < c.dMlp(); n++) out.add(new Site(layer, hookName(layer), neuronPos(len), -1, n));
            }
            case NEURONS -> {
                for (int p = 0; p < len; p++) for (int n = 0; n < c.dMlp(); n++) out.add(new Site(layer, hookName(layer), p, -1, n));
            }
        }
        return out;
    }

    /**
     * Where element ({@code pos}, {@code head}, {@code feature}) of layer {@code l}'s hook belongs in the result
     * ({@code pos} is the query position for patterns), or -1 when no site covers it: the attribution estimate of
     * a site sums its elements.
     */
    int siteOf(GptConfig c, int len, int l, int pos, int head, int feature) {
        return switch (kind) {
            case LAYER_POS -> l * len + pos;
            case HEAD, PATH -> byPos ? (l * len + pos) * c.nHeads() + head : l * c.nHeads() + head;
            case NEURONS_AT -> pos == neuronPos(len) ? feature : -1;
            case NEURONS -> pos * c.dMlp() + feature;
        };
    }
}
