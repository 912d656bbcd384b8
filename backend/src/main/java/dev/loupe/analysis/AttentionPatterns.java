package dev.loupe.analysis;

import dev.loupe.hooks.HookPoints;
import dev.loupe.model.Tensor;
import dev.loupe.runtime.RunRequest;

import java.util.ArrayList;
import java.util.List;

/** Attention patterns of the heads of one layer: pattern[q][k] is how much query position q attends to key k. */
public final class AttentionPatterns {
    private AttentionPatterns() {}

    /** @param patterns one [query][key] matrix per entry of {@code heads} */
    public record Result(List<TokenInfo> tokens, int layer, List<Integer> heads, List<float[][]> patterns) {}

    /** @param head a head of the layer, or -1 for all of them */
    public static Result compute(Subject s, int[] ids, int layer, int head) {
        int nHeads = s.config().nHeads();
        String hook = HookPoints.name(layer, "attn.hook_pattern");
        Tensor pattern;
        try (var run = s.engine().run(RunRequest.of(ids).cacheRegex("^" + java.util.regex.Pattern.quote(hook) + "$").stopAfter(layer))) {
            pattern = run.get(hook);
        }
        int t = ids.length;
        List<Integer> heads = new ArrayList<>();
        List<float[][]> out = new ArrayList<>();
        for (int h = 0; h < nHeads; h++) {
            if (head >= 0 && h != head) continue;
            float[][] m = new float[t][t];
            for (int q = 0; q < t; q++)
                System.arraycopy(pattern.data(), (h * t + q) * t, m[q], 0, t);
            heads.add(h);
            out.add(m);
        }
        return new Result(s.tokens(ids), layer, heads, out);
    }
}
