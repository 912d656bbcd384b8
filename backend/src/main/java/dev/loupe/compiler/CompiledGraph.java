package dev.loupe.compiler;

import java.util.List;
import java.util.Map;

/**
 * An ONNX model for a {@link GraphSpec} with the names of its ports.
 *
 * @param input        {@link Ports#TOKENS} (int64 [batch, pos]) or {@link Ports#RESID_IN} (float [batch, pos, d_model])
 * @param output       {@link Ports#LOGITS} or {@link Ports#RESID_OUT}
 * @param weightInputs weight names the graph takes as inputs, empty when the weights are baked in
 * @param hookPorts    for each returned hook, the graph value that holds it: an output of the hook's name, or
 *                     the graph's input or output port when the hook is the residual stream entering or leaving
 * @param patchedHooks hooks with patch ports {@link Ports#patchMask} and {@link Ports#patchValue}
 * @param hookLayouts  hooks returned in another dimension order than the hook's, with the permutation that gives
 *                     the hook's order (dimension i of the hook is dimension perm[i] of the output); the last
 *                     dimension never moves, so the runtime reorders whole rows while copying
 */
public record CompiledGraph(GraphSpec spec, byte[] model, String input, String output,
                            List<String> weightInputs, Map<String, String> hookPorts, List<String> patchedHooks,
                            Map<String, int[]> hookLayouts) {
}
