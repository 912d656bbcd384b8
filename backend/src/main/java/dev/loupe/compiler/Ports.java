package dev.loupe.compiler;

/** Names of the inputs and outputs of compiled graphs other than hooks and weights. */
public final class Ports {
    private Ports() {}

    public static final String TOKENS = "tokens";
    public static final String RESID_IN = "resid_in";
    public static final String LOGITS = "logits";
    /** The residual stream leaving a graph that stops before the unembedding. */
    public static final String RESID_OUT = "resid_out";

    /** Boolean mask, broadcastable to the hook's shape: true where the patch value replaces the activation. */
    public static String patchMask(String hook) { return "patch_mask:" + hook; }

    /** Replacement values, broadcastable to the hook's shape. */
    public static String patchValue(String hook) { return "patch_value:" + hook; }
}
