package dev.loupe.analysis;

import dev.loupe.hooks.HookPoints;
import dev.loupe.model.GptConfig;
import dev.loupe.model.Tensor;
import dev.loupe.runtime.RunRequest;
import dev.loupe.runtime.RunResult;

import java.util.ArrayList;
import java.util.List;

/**
 * The logit lens: the residual stream before every block ({@code hook_resid_pre}), and the final output, read
 * through the final LayerNorm (with its own scale, computed from the residual being lensed) and the unembedding.
 * The last row is the model's real output.
 */
public final class LogitLens {
    private LogitLens() {}

    /** Logit rows unembedded at a time: bounds the memory of long prompts on large vocabularies. */
    private static final long MAX_FLOATS_PER_CHUNK = 48L << 20;

    /** @param target probability of the chosen token (null when none was chosen) */
    public record Cell(List<Candidate> top, Double target, Integer targetRank) {}

    /** @param layers row names: the hook lensed ({@code blocks.L.hook_resid_pre}) or {@code output} */
    public record Result(List<TokenInfo> tokens, List<String> layers, List<List<Cell>> cells, TokenInfo target) {}

    public static Result compute(Subject s, int[] ids, Integer target, int k) {
        GptConfig c = s.config();
        int n = c.nLayers();
        int t = ids.length;
        // the blocks once, keeping every resid_pre and the final residual; then one unembedding run over all of them
        int d = c.dModel();
        List<float[]> residuals = new ArrayList<>();
        try (RunResult run = s.engine().run(RunRequest.of(ids).cacheRegex("hook_resid_pre$").stopAfter(n - 1))) {
            for (int l = 0; l < n; l++) residuals.add(run.get(HookPoints.name(l, "hook_resid_pre")).data());
            residuals.add(run.residual().data());
        }
        List<String> layers = new ArrayList<>();
        List<List<Cell>> cells = new ArrayList<>();
        int vocab = c.dVocab();
        int rowsPerChunk = (int) Math.max(1, MAX_FLOATS_PER_CHUNK / ((long) t * vocab));
        for (int from = 0; from <= n; from += rowsPerChunk) {
            int to = Math.min(n + 1, from + rowsPerChunk);
            Tensor stacked = Tensor.zeros(to - from, t, d);
            for (int l = from; l < to; l++) {
                float[] src = residuals.get(l);
                System.arraycopy(src, 0, stacked.data(), (l - from) * t * d, t * d);
            }
            Tensor logits;
            try (RunResult lensed = s.engine().run(RunRequest.fromResidual(n, stacked))) {
                logits = lensed.logits();
            }
            for (int l = from; l < to; l++) {
                layers.add(l < n ? HookPoints.name(l, "hook_resid_pre") : "output");
                cells.add(row(s, logits.data(), (l - from) * t * vocab, t, vocab, target, k));
            }
        }
        return new Result(s.tokens(ids), layers, cells, target == null ? null : s.token(target));
    }

    private static List<Cell> row(Subject s, float[] logits, int off, int t, int vocab, Integer target, int k) {
        Cell[] out = new Cell[t];
        java.util.stream.IntStream.range(0, t).parallel().forEach(p -> {
            int o = off + p * vocab;
            double lse = Ops.logSumExp(logits, o, vocab);
            Double prob = null;
            Integer rank = null;
            if (target != null) {
                prob = Math.exp(logits[o + target] - lse);
                rank = Ops.rank(logits, o, vocab, target);
            }
            out[p] = new Cell(Ops.candidates(s, logits, o, vocab, k, lse), prob, rank);
        });
        return List.of(out);
    }
}
