package dev.loupe.compiler;

import dev.loupe.model.GptConfig;

/**
 * Stage numbering: stage 0 embeds tokens, stage {@code l+1} is block {@code l}, stage {@code n_layers+1}
 * unembeds. A graph covers a contiguous range of stages; the runtime chains graphs by the residual stream.
 */
public final class Stages {
    private Stages() {}

    public static final int EMBED = 0;

    public static int block(int layer) { return layer + 1; }
    public static int unembed(GptConfig c) { return c.nLayers() + 1; }
    public static int count(GptConfig c) { return c.nLayers() + 2; }

    /** Stage that computes a hook of the given layer (-1: embedding hooks, n_layers: ln_final). */
    public static int ofHookLayer(int layer) { return layer + 1; }

    public static String describe(GptConfig c, int stage) {
        if (stage == EMBED) return "embed";
        if (stage == unembed(c)) return "unembed";
        return "block " + (stage - 1);
    }
}
