package dev.loupe.hooks;

import dev.loupe.model.GptConfig;

import java.util.List;

/**
 * One named activation (TransformerLens naming). {@code layer} is -1 for the embedding hooks and
 * {@code n_layers} for {@code ln_final}; {@code local} is the name inside the block ({@code attn.hook_z}).
 */
public record HookPoint(String name, int layer, String local, List<Axis> axes) {

    /** Shape for a batch of {@code batch} prompts of {@code pos} tokens. */
    public int[] shape(GptConfig c, int batch, int pos) {
        int[] s = new int[axes.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = switch (axes.get(i)) {
                case BATCH -> batch;
                case POS, QUERY_POS, KEY_POS -> pos;
                case HEAD -> c.nHeads();
                case D_HEAD -> c.dHead();
                case D_MODEL -> c.dModel();
                case D_MLP -> c.dMlp();
                case ONE -> 1;
            };
        }
        return s;
    }

    public int rank() { return axes.size(); }

    /** Index of an axis in this hook's shape, or -1. */
    public int axisIndex(Axis a) { return axes.indexOf(a); }
}
