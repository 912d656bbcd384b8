package dev.loupe.analysis;

import dev.loupe.hooks.HookPoints;
import dev.loupe.model.GptConfig;
import dev.loupe.model.Tensor;
import dev.loupe.runtime.Engine;
import dev.loupe.runtime.RunRequest;
import dev.loupe.runtime.RunResult;

import java.util.ArrayList;
import java.util.List;

/**
 * The logit lens: a stream of the residual path read through the final LayerNorm (with its own scale, computed
 * from the vector being lensed, as {@code unembed(ln_final(x))} does) and the unembedding. The streams are
 * {@code hook_resid_pre} of every block (then the model's output as the last row), or {@code hook_resid_mid},
 * {@code hook_resid_post}, {@code hook_attn_out} or {@code hook_mlp_out} of every block, or all of them in forward
 * order. The last block's {@code hook_resid_post} is the final residual, so its lens is the model's output.
 */
public final class LogitLens {
    private LogitLens() {}

    /** Which vectors are lensed: one hook of every block, or every stream in forward order ({@link #ALL}). */
    public enum Stream {
        RESID_PRE("hook_resid_pre"), ATTN_OUT("hook_attn_out"), RESID_MID("hook_resid_mid"), MLP_OUT("hook_mlp_out"),
        RESID_POST("hook_resid_post"), ALL(null);

        /** The block-local hook name ({@code null} for {@link #ALL}). */
        public final String hook;

        Stream(String hook) { this.hook = hook; }

        /** The parameter's name, e.g. {@code resid_pre}. */
        public String key() { return name().toLowerCase(java.util.Locale.ROOT); }

        /** Whether a model with or without MLPs has this stream. */
        public boolean existsIn(GptConfig c) { return !c.attnOnly() || (this != RESID_MID && this != MLP_OUT); }

        public static Stream parse(String s) {
            for (Stream v : values()) if (v.key().equals(s)) return v;
            throw new IllegalArgumentException("unknown stream '" + s + "': one of resid_pre, resid_mid, resid_post, attn_out, mlp_out, all");
        }
    }

    /** The hooks lensed for a stream, in row order; {@code output} (the model's logits) ends the resid_pre rows. */
    public static List<String> rows(GptConfig c, Stream stream) {
        List<String> out = new ArrayList<>();
        int n = c.nLayers();
        if (stream == Stream.ALL) {
            for (int l = 0; l < n; l++)
                for (Stream s : List.of(Stream.RESID_PRE, Stream.ATTN_OUT, Stream.RESID_MID, Stream.MLP_OUT))
                    if (s.existsIn(c)) out.add(HookPoints.name(l, s.hook));
            out.add(HookPoints.name(n - 1, Stream.RESID_POST.hook));
            return out;
        }
        if (!stream.existsIn(c)) throw new IllegalArgumentException("the model is attention-only: it has no " + stream.key());
        for (int l = 0; l < n; l++) out.add(HookPoints.name(l, stream.hook));
        if (stream == Stream.RESID_PRE) out.add(OUTPUT);
        return out;
    }

    /** The row name of the model's own output (the final residual). */
    public static final String OUTPUT = "output";

    /** @param target probability of the chosen token (null when none was chosen) */
    public record Cell(List<Candidate> top, Double target, Integer targetRank) {}

    /**
     * @param layers row names: the hook lensed (e.g. {@code blocks.L.hook_resid_pre}) or {@code output}
     * @param stream the stream's parameter name ({@link Stream#key()})
     */
    public record Result(List<TokenInfo> tokens, String stream, List<String> layers, List<List<Cell>> cells, TokenInfo target) {}

    /** The lens of every block's resid_pre and the output. */
    public static Result compute(Subject s, int[] ids, Integer target, int k) {
        return compute(s, ids, Stream.RESID_PRE, target, k);
    }

    public static Result compute(Subject s, int[] ids, Stream stream, Integer target, int k) {
        return compute(s, ids, stream, target, k, 0);
    }

    /**
     * As above, unembedding only positions {@code from..} (the cells of earlier positions are null): a long prompt's
     * first view shows its last positions, and the unembedding over the vocabulary is nearly all of the work. Each
     * vector is lensed on its own, so the cells computed are those of the whole lens.
     */
    public static Result compute(Subject s, int[] ids, Stream stream, Integer target, int k, int from) {
        GptConfig c = s.config();
        int n = c.nLayers();
        int t = ids.length;
        List<String> names = rows(c, stream);
        // the blocks once, keeping the streams and the final residual; then unembedding runs over all of them
        int d = c.dModel();
        java.util.Set<String> hooks = new java.util.HashSet<>(names);
        List<float[]> residuals = new ArrayList<>();
        try (RunResult run = s.engine().run(RunRequest.of(ids).cache(hooks::contains).stopAfter(n - 1))) {
            for (String name : names) residuals.add(name.equals(OUTPUT) ? run.residual().data() : run.get(name).data());
        }
        if (from < 0 || from >= t) throw new IllegalArgumentException("first position " + from + " outside 0.." + (t - 1));
        int rows = names.size(), shown = t - from;
        Tensor stacked = Tensor.zeros(rows * shown, d);
        for (int l = 0; l < rows; l++) System.arraycopy(residuals.get(l), from * d, stacked.data(), l * shown * d, shown * d);
        int[] targets = null;
        if (target != null) {
            targets = new int[rows * shown];
            java.util.Arrays.fill(targets, target);
        }
        // reduced inside ONNX Runtime: the [rows, vocab] logits never reach the heap
        Engine.TopLogits top = s.engine().topLogits(stacked, k, targets);
        List<List<Cell>> cells = new ArrayList<>();
        for (int l = 0; l < rows; l++) {
            Cell[] row = new Cell[t];
            for (int i = 0; i < shown; i++) {
                int r = l * shown + i;
                double lse = top.logSumExp(r);
                row[from + i] = new Cell(Ops.candidates(s, top, r, lse), target == null ? null : Math.exp(top.targetLogit()[r] - lse),
                        target == null ? null : top.above()[r] + 1);
            }
            cells.add(from == 0 ? List.of(row) : java.util.Collections.unmodifiableList(java.util.Arrays.asList(row)));
        }
        return new Result(s.tokens(ids), stream.key(), names, cells, target == null ? null : s.token(target));
    }
}
