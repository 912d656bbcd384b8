package dev.loupe.hooks;

import dev.loupe.model.GptConfig;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

import static dev.loupe.hooks.Axis.*;

/**
 * Every hook of a config in forward order. Attention-only blocks have no {@code hook_resid_mid}, {@code ln2.*}
 * or {@code mlp.*} hooks (their residual goes straight from attention to {@code hook_resid_post}).
 */
public final class HookPoints {
    public static final String EMBED = "hook_embed";
    public static final String POS_EMBED = "hook_pos_embed";

    private static final List<Axis> RESID = List.of(BATCH, POS, D_MODEL);
    private static final List<Axis> SCALE = List.of(BATCH, POS, ONE);
    private static final List<Axis> HEADWISE = List.of(BATCH, POS, HEAD, D_HEAD);
    private static final List<Axis> ATTENTION = List.of(BATCH, HEAD, QUERY_POS, KEY_POS);
    private static final List<Axis> NEURONS = List.of(BATCH, POS, D_MLP);

    private final GptConfig config;
    private final Map<String, HookPoint> byName;

    private HookPoints(GptConfig config, Map<String, HookPoint> byName) {
        this.config = config;
        this.byName = Collections.unmodifiableMap(byName);
    }

    public static HookPoints of(GptConfig c) {
        Map<String, HookPoint> m = new LinkedHashMap<>();
        add(m, -1, EMBED, RESID);
        add(m, -1, POS_EMBED, RESID);
        for (int l = 0; l < c.nLayers(); l++) {
            for (var e : blockHooks(c.attnOnly()).entrySet()) add(m, l, e.getKey(), e.getValue());
        }
        add(m, c.nLayers(), "ln_final.hook_scale", SCALE);
        add(m, c.nLayers(), "ln_final.hook_normalized", RESID);
        return new HookPoints(c, m);
    }

    /** Hooks inside a block, by local name, in forward order. */
    public static Map<String, List<Axis>> blockHooks(boolean attnOnly) {
        Map<String, List<Axis>> m = new LinkedHashMap<>();
        m.put("hook_resid_pre", RESID);
        m.put("ln1.hook_scale", SCALE);
        m.put("ln1.hook_normalized", RESID);
        m.put("attn.hook_q", HEADWISE);
        m.put("attn.hook_k", HEADWISE);
        m.put("attn.hook_v", HEADWISE);
        m.put("attn.hook_attn_scores", ATTENTION);
        m.put("attn.hook_pattern", ATTENTION);
        m.put("attn.hook_z", HEADWISE);
        m.put("attn.hook_result", List.of(BATCH, POS, HEAD, D_MODEL));
        m.put("hook_attn_out", RESID);
        if (!attnOnly) {
            m.put("hook_resid_mid", RESID);
            m.put("ln2.hook_scale", SCALE);
            m.put("ln2.hook_normalized", RESID);
            m.put("mlp.hook_pre", NEURONS);
            m.put("mlp.hook_post", NEURONS);
            m.put("hook_mlp_out", RESID);
        }
        m.put("hook_resid_post", RESID);
        return m;
    }

    private static void add(Map<String, HookPoint> m, int layer, String local, List<Axis> axes) {
        String name = layer < 0 ? local : local.startsWith("ln_final") ? local : "blocks." + layer + "." + local;
        m.put(name, new HookPoint(name, layer, local, axes));
    }

    /** Block hook name, e.g. {@code name(3, "attn.hook_z")} is {@code blocks.3.attn.hook_z}. */
    public static String name(int layer, String local) { return "blocks." + layer + "." + local; }

    public GptConfig config() { return config; }
    public List<HookPoint> all() { return List.copyOf(byName.values()); }
    public List<String> names() { return List.copyOf(byName.keySet()); }
    public boolean contains(String name) { return byName.containsKey(name); }

    public HookPoint get(String name) {
        HookPoint h = byName.get(name);
        if (h == null) throw new IllegalArgumentException("unknown hook '" + name + "'");
        return h;
    }

    public List<HookPoint> matching(Predicate<String> filter) {
        List<HookPoint> out = new ArrayList<>();
        for (HookPoint h : byName.values()) if (filter.test(h.name())) out.add(h);
        return out;
    }

    /** Hooks whose name contains a match of {@code regex}; a regex that matches no hook is an error. */
    public List<HookPoint> matchingRegex(String regex) {
        Pattern p;
        try {
            p = Pattern.compile(regex);
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException("invalid hook pattern '" + regex + "': " + e.getDescription());
        }
        List<HookPoint> out = matching(n -> p.matcher(n).find());
        if (out.isEmpty()) throw new IllegalArgumentException("no hook matches '" + regex + "' (hooks look like blocks.0.attn.hook_pattern)");
        return out;
    }

    /** A filter from a regex, matched anywhere in the name (anchor it with ^...$ for whole names). */
    public static Predicate<String> regex(String regex) {
        Pattern p = Pattern.compile(regex);
        return n -> p.matcher(n).find();
    }
}
