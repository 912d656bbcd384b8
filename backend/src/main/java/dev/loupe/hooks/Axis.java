package dev.loupe.hooks;

/** What a dimension of a hook's activation indexes. */
public enum Axis {
    BATCH, POS, QUERY_POS, KEY_POS, HEAD, D_HEAD, D_MODEL, D_MLP,
    /** A kept dimension of size one (LayerNorm scales). */
    ONE;

    /** True for the dimensions that grow with the prompt and are trimmed when a padded batch is split. */
    public boolean isPosition() { return this == POS || this == QUERY_POS || this == KEY_POS; }
}
