package dev.loupe.analysis;

import dev.loupe.hooks.HookPoints;
import dev.loupe.model.GptConfig;
import dev.loupe.model.Tensor;
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

    /** Logit rows unembedded at a time: bounds the memory of long prompts on large vocabularies. */
    private static final long MAX_FLOATS_PER_CHUNK = 48L << 20;

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
        List<List<Cell>> cells = new ArrayList<>();
        int vocab = c.dVocab();
        int rowsPerChunk = (int) Math.max(1, MAX_FLOATS_PER_CHUNK / ((long) shown * vocab));
        for (int first = 0; first < rows; first += rowsPerChunk) {
            int to = Math.min(rows, first + rowsPerChunk);
            Tensor stacked = Tensor.zeros(to - first, shown, d);
            for (int l = first; l < to; l++) {
                float[] src = residuals.get(l);
                System.arraycopy(src, from * d, stacked.data(), (l - first) * shown * d, shown * d);
            }
            Tensor logits;
            try (RunResult lensed = s.engine().run(RunRequest.fromResidual(n, stacked))) {
                logits = lensed.logits();
            }
            for (int l = first; l < to; l++) {
                cells.add(row(s, logits.data(), (l - first) * shown * vocab, from, shown, vocab, target, k));
            }
        }
        return new Result(s.tokens(ids), stream.key(), names, cells, target == null ? null : s.token(target));
    }

    /** Cells of positions from..from+shown-1 from their logits at off; earlier positions are null. */
    private static List<Cell> row(Subject s, float[] logits, int off, int from, int shown, int vocab, Integer target, int k) {
        Cell[] out = new Cell[from + shown];
        java.util.stream.IntStream.range(0, shown).parallel().forEach(i -> {
            int o = off + i * vocab, p = from + i;
            double lse = Ops.logSumExp(logits, o, vocab);
            Double prob = null;
            Integer rank = null;
            if (target != null) {
                prob = Math.exp(logits[o + target] - lse);
                rank = Ops.rank(logits, o, vocab, target);
            }
            out[p] = new Cell(Ops.candidates(s, logits, o, vocab, k, lse), prob, rank);
        });
        return from == 0 ? List.of(out) : java.util.Collections.unmodifiableList(java.util.Arrays.asList(out));
    }
}
