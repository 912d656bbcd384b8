package dev.loupe.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Shape of a GPT-2-family model. Serialised with Hugging Face {@code config.json} names
 * ({@code n_layer}, {@code n_head}, {@code n_embd}, {@code n_inner}, {@code n_positions}, {@code vocab_size}).
 *
 * @param attnOnly blocks without MLP (and without ln_2), as in attention-only toy models
 */
public record GptConfig(int nLayers, int nHeads, int dModel, int dMlp, int nCtx, int dVocab,
                        boolean attnOnly, double lnEps) {

    public static final double DEFAULT_LN_EPS = 1e-5;
    public static final int GPT2_VOCAB = 50257;

    public GptConfig {
        require(nLayers > 0, "n_layer must be positive, got " + nLayers);
        require(nHeads > 0, "n_head must be positive, got " + nHeads);
        require(dModel > 0, "n_embd must be positive, got " + dModel);
        require(dModel % nHeads == 0, "n_embd (" + dModel + ") must be divisible by n_head (" + nHeads + ")");
        require(attnOnly || dMlp > 0, "n_inner must be positive, got " + dMlp);
        require(nCtx > 0, "n_positions must be positive, got " + nCtx);
        require(dVocab > 0, "vocab_size must be positive, got " + dVocab);
        require(lnEps > 0, "layer_norm_epsilon must be positive, got " + lnEps);
    }

    public GptConfig(int nLayers, int nHeads, int dModel, int dMlp, int nCtx, int dVocab) {
        this(nLayers, nHeads, dModel, dMlp, nCtx, dVocab, false, DEFAULT_LN_EPS);
    }

    public static GptConfig small() { return new GptConfig(12, 12, 768, 3072, 1024, GPT2_VOCAB); }
    public static GptConfig medium() { return new GptConfig(24, 16, 1024, 4096, 1024, GPT2_VOCAB); }
    public static GptConfig large() { return new GptConfig(36, 20, 1280, 5120, 1024, GPT2_VOCAB); }
    public static GptConfig xl() { return new GptConfig(48, 25, 1600, 6400, 1024, GPT2_VOCAB); }

    public int dHead() { return dModel / nHeads; }

    /** Number of weights, counting the tied embedding once. */
    public long parameterCount() {
        long d = dModel;
        long attn = d * 3 * d + 3 * d + d * d + d + 2 * d;
        long mlp = attnOnly ? 0 : d * dMlp + dMlp + (long) dMlp * d + d + 2 * d;
        return (long) dVocab * d + (long) nCtx * d + nLayers * (attn + mlp) + 2 * d;
    }

    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("n_layer", nLayers);
        o.put("n_head", nHeads);
        o.put("n_embd", dModel);
        o.put("n_inner", dMlp);
        o.put("n_positions", nCtx);
        o.put("vocab_size", dVocab);
        o.put("attn_only", attnOnly);
        o.put("layer_norm_epsilon", lnEps);
        return o;
    }

    /** Reads a config; {@code n_inner} defaults to 4·n_embd and {@code n_positions} to 1024, as in Hugging Face. */
    public static GptConfig fromJson(JsonNode o) {
        if (o == null || !o.isObject()) throw new IllegalArgumentException("config must be a JSON object");
        int dModel = requiredInt(o, "n_embd");
        int dMlp = o.hasNonNull("n_inner") ? o.get("n_inner").asInt() : 4 * dModel;
        return new GptConfig(requiredInt(o, "n_layer"), requiredInt(o, "n_head"), dModel, dMlp,
                o.hasNonNull("n_positions") ? o.get("n_positions").asInt() : 1024,
                o.hasNonNull("vocab_size") ? o.get("vocab_size").asInt() : GPT2_VOCAB,
                o.path("attn_only").asBoolean(false),
                o.hasNonNull("layer_norm_epsilon") ? o.get("layer_norm_epsilon").asDouble() : DEFAULT_LN_EPS);
    }

    private static int requiredInt(JsonNode o, String key) {
        JsonNode v = o.get(key);
        if (v == null || !v.canConvertToInt()) throw new IllegalArgumentException("config is missing integer '" + key + "'");
        return v.asInt();
    }

    private static void require(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException("invalid config: " + message);
    }
}
