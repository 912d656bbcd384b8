package dev.loupe.model;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * The weights of a GPT-2-family model under Hugging Face names without the {@code transformer.} prefix
 * ({@code wte.weight}, {@code h.0.attn.c_attn.weight}, ...), validated against a {@link GptConfig}.
 * Conv1D weights keep Hugging Face's input-major layout: {@code y = x·W + b}.
 */
public final class GptWeights {
    private static final String PREFIX = "transformer.";

    private final GptConfig config;
    private final Map<String, Tensor> tensors;

    private GptWeights(GptConfig config, Map<String, Tensor> tensors) {
        this.config = config;
        this.tensors = Collections.unmodifiableMap(tensors);
    }

    public GptConfig config() { return config; }

    /** All tensors in canonical order. */
    public Map<String, Tensor> tensors() { return tensors; }

    public Tensor get(String name) {
        Tensor t = tensors.get(name);
        if (t == null) throw new IllegalArgumentException("no weight named '" + name + "'");
        return t;
    }

    /** Weight of layer {@code l}, e.g. {@code layer(3, "attn.c_attn.weight")}. */
    public Tensor layer(int l, String suffix) { return get("h." + l + "." + suffix); }

    /** Canonical names and shapes a config requires, in file order. */
    public static Map<String, int[]> expectedShapes(GptConfig c) {
        Map<String, int[]> m = new LinkedHashMap<>();
        int d = c.dModel();
        m.put("wte.weight", new int[]{c.dVocab(), d});
        m.put("wpe.weight", new int[]{c.nCtx(), d});
        for (int l = 0; l < c.nLayers(); l++) {
            String p = "h." + l + ".";
            m.put(p + "ln_1.weight", new int[]{d});
            m.put(p + "ln_1.bias", new int[]{d});
            m.put(p + "attn.c_attn.weight", new int[]{d, 3 * d});
            m.put(p + "attn.c_attn.bias", new int[]{3 * d});
            m.put(p + "attn.c_proj.weight", new int[]{d, d});
            m.put(p + "attn.c_proj.bias", new int[]{d});
            if (!c.attnOnly()) {
                m.put(p + "ln_2.weight", new int[]{d});
                m.put(p + "ln_2.bias", new int[]{d});
                m.put(p + "mlp.c_fc.weight", new int[]{d, c.dMlp()});
                m.put(p + "mlp.c_fc.bias", new int[]{c.dMlp()});
                m.put(p + "mlp.c_proj.weight", new int[]{c.dMlp(), d});
                m.put(p + "mlp.c_proj.bias", new int[]{d});
            }
        }
        m.put("ln_f.weight", new int[]{d});
        m.put("ln_f.bias", new int[]{d});
        return m;
    }

    /** Name without the {@code transformer.} prefix; null for buffers that carry no weights (causal-mask buffers). */
    public static String canonicalName(String name) {
        String n = name.startsWith(PREFIX) ? name.substring(PREFIX.length()) : name;
        if (n.endsWith(".attn.bias") || n.endsWith(".attn.masked_bias") || n.equals("lm_head.weight")) return null;
        return n;
    }

    /**
     * Validates tensors against a config. Accepts the {@code transformer.} prefix, ignores attention mask buffers
     * and a tied {@code lm_head.weight}; names every missing, unexpected or mis-shaped tensor.
     */
    public static GptWeights of(GptConfig config, Map<String, Tensor> named) throws WeightsException {
        Map<String, Tensor> byCanonical = new LinkedHashMap<>();
        for (var e : named.entrySet()) {
            String n = canonicalName(e.getKey());
            if (n != null) byCanonical.put(n, e.getValue());
        }
        Map<String, int[]> expected = expectedShapes(config);
        List<String> problems = problems(expected, byCanonical.keySet(), name -> byCanonical.get(name).shape());
        if (!problems.isEmpty()) throw new WeightsException(String.join("; ", problems));
        Map<String, Tensor> ordered = new LinkedHashMap<>();
        for (String name : expected.keySet()) ordered.put(name, byCanonical.get(name));
        return new GptWeights(config, ordered);
    }

    private static List<String> problems(Map<String, int[]> expected, java.util.Set<String> present,
                                         java.util.function.Function<String, int[]> shapeOf) {
        List<String> problems = new ArrayList<>();
        TreeSet<String> missing = new TreeSet<>(expected.keySet());
        missing.removeAll(present);
        TreeSet<String> extra = new TreeSet<>(present);
        extra.removeAll(expected.keySet());
        if (!missing.isEmpty()) problems.add("missing tensors: " + summarize(missing));
        if (!extra.isEmpty()) problems.add("unexpected tensors: " + summarize(extra));
        for (var e : expected.entrySet()) {
            if (!present.contains(e.getKey())) continue;
            int[] actual = shapeOf.apply(e.getKey());
            if (!Arrays.equals(actual, e.getValue()))
                problems.add("tensor '" + e.getKey() + "' has shape " + Arrays.toString(actual) + ", expected " + Arrays.toString(e.getValue()));
        }
        return problems;
    }

    private static String summarize(TreeSet<String> names) {
        String s = names.stream().limit(8).collect(Collectors.joining(", "));
        return names.size() > 8 ? s + " and " + (names.size() - 8) + " more" : s;
    }

    /** Reads and validates a safetensors file (any float dtype) against a config; shapes are checked before data is read. */
    public static GptWeights load(Path file, GptConfig config) throws IOException {
        try (Safetensors st = Safetensors.open(file)) {
            Map<String, String> byCanonical = new LinkedHashMap<>();
            for (String n : st.names()) {
                String c = canonicalName(n);
                if (c != null) byCanonical.put(c, n);
            }
            List<String> problems = problems(expectedShapes(config), byCanonical.keySet(), c -> entryShape(st, byCanonical.get(c)));
            if (!problems.isEmpty()) throw new WeightsException(file.getFileName() + ": " + String.join("; ", problems));
            Map<String, Tensor> named = new LinkedHashMap<>();
            for (var e : byCanonical.entrySet()) named.put(e.getKey(), st.read(e.getValue()));
            return of(config, named);
        }
    }

    private static int[] entryShape(Safetensors st, String name) {
        try {
            return st.entry(name).shape();
        } catch (SafetensorsException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Infers a config from tensor shapes (layers from the highest {@code h.N} index, heads cannot be seen in
     * shapes and must be given). Attention-only when no block has an MLP.
     */
    public static GptConfig inferConfig(Map<String, int[]> shapes, int nHeads) throws WeightsException {
        Map<String, int[]> c = new LinkedHashMap<>();
        shapes.forEach((k, v) -> {
            String n = canonicalName(k);
            if (n != null) c.put(n, v);
        });
        int[] wte = c.get("wte.weight"), wpe = c.get("wpe.weight");
        if (wte == null || wpe == null || wte.length != 2 || wpe.length != 2)
            throw new WeightsException("cannot infer a config: wte.weight and wpe.weight must be present as matrices");
        int layers = 0;
        for (String n : c.keySet())
            if (n.startsWith("h.")) layers = Math.max(layers, Integer.parseInt(n.substring(2, n.indexOf('.', 2))) + 1);
        if (layers == 0) throw new WeightsException("cannot infer a config: no blocks (h.0.*) found");
        int[] fc = c.get("h.0.mlp.c_fc.weight");
        int d = wte[1];
        if (d % nHeads != 0) throw new WeightsException("cannot infer a config: n_embd " + d + " is not divisible by n_head " + nHeads);
        return new GptConfig(layers, nHeads, d, fc == null ? 0 : fc[1], wpe[0], wte[0], fc == null, GptConfig.DEFAULT_LN_EPS);
    }

    /** Writes the weights as F32 safetensors under canonical names. */
    public void save(Path file, Map<String, String> metadata) throws IOException {
        Safetensors.write(file, tensors, metadata);
    }

    // ---------------------------------------------------------------- random initialisation

    /**
     * GPT-2-style initialisation: weights ~ N(0, 0.02), output projections scaled by 1/sqrt(2·n_layer), biases 0,
     * LayerNorm weight 1 and bias 0. With {@code nontrivial}, biases and LayerNorm parameters are random too, so
     * tests exercise every parameter. Each tensor draws from its own stream, so results do not depend on order.
     */
    public static GptWeights random(GptConfig config, long seed, boolean nontrivial) {
        Map<String, int[]> shapes = expectedShapes(config);
        double projStd = 0.02 / Math.sqrt(2.0 * config.nLayers());
        List<String> names = new ArrayList<>(shapes.keySet());
        Tensor[] made = new Tensor[names.size()];
        java.util.stream.IntStream.range(0, names.size()).parallel().forEach(i -> {
            String name = names.get(i);
            Tensor t = Tensor.zeros(shapes.get(name));
            SplittableRandom rnd = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + name.hashCode());
            float[] d = t.data();
            boolean ln = name.contains("ln_");
            if (ln && name.endsWith(".weight")) {
                for (int k = 0; k < d.length; k++) d[k] = nontrivial ? (float) (1 + 0.2 * rnd.nextGaussian()) : 1f;
            } else if (name.endsWith(".bias")) {
                if (nontrivial) for (int k = 0; k < d.length; k++) d[k] = (float) ((ln ? 0.1 : 0.02) * rnd.nextGaussian());
            } else {
                double std = name.endsWith("c_proj.weight") ? projStd : name.equals("wpe.weight") ? 0.01 : 0.02;
                for (int k = 0; k < d.length; k++) d[k] = (float) (std * rnd.nextGaussian());
            }
            made[i] = t;
        });
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) out.put(names.get(i), made[i]);
        return new GptWeights(config, out);
    }
}
