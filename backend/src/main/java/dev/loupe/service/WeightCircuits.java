package dev.loupe.service;

import dev.loupe.analysis.Subject;
import dev.loupe.api.ApiException;
import dev.loupe.model.GptConfig;
import dev.loupe.weights.Composition;
import dev.loupe.weights.FoldedWeights;
import dev.loupe.weights.HeadCircuits;
import dev.loupe.weights.LowRank;
import jakarta.enterprise.context.ApplicationScoped;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A head's weights read as circuits (QK and OV through the embedding) and the composition scores between heads,
 * through the explorer's result cache and scheduler. The processed weights of the models last asked about are kept.
 */
@ApplicationScoped
public class WeightCircuits {
    public static final int DEFAULT_ROWS = 10, MAX_ROWS = 50;

    /** One head: both circuits, and a token's row and column in each when one was asked for. */
    public record Head(int layer, int head, String convention, HeadCircuits.Circuit qk, HeadCircuits.Circuit ov, Tokens token) {}

    public record Tokens(HeadCircuits.TokenView qk, HeadCircuits.TokenView ov) {}

    private final Explorer explorer;
    private final ModelEngines engines;
    private final Map<String, FoldedWeights> folded = new LinkedHashMap<>(4, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, FoldedWeights> e) { return size() > 2; }
    };

    public WeightCircuits(Explorer explorer, ModelEngines engines) {
        this.explorer = explorer;
        this.engines = engines;
    }

    private FoldedWeights folded(String model) {
        var loaded = engines.get(model);
        synchronized (folded) {
            return folded.computeIfAbsent(loaded.fingerprint(), k -> FoldedWeights.of(loaded.subject().weights()));
        }
    }

    /** Processed weights (two vocabulary × d_model tables in double) and the factors of one head. */
    private static long bytes(GptConfig c) {
        return 16L * c.dVocab() * c.dModel() + 4L * 8 * c.dVocab() * c.dHead() + (32L << 20);
    }

    public Explorer.Query<Composition.Result> compositionQuery(String model) {
        GptConfig c = explorer.config(model);
        if (c.nLayers() < 2) throw ApiException.badRequest(model + " has one layer: composition needs heads in two layers");
        return new Explorer.Query<>(model, "weights-composition", Map.of("baseline", Composition.BASELINE_SAMPLES), Composition.Result.class,
                () -> Composition.compute(folded(model)), bytes(c));
    }

    /**
     * @param rows   rows shown (and top pairs), default 10
     * @param sign   "positive" (largest entries, default) or "negative" (most negative)
     * @param rank   "max" (rows holding the largest entries, exact at any vocabulary) or "norm" (rows of largest norm);
     *               default max up to {@link HeadCircuits#MAX_DEFAULT_ENTRIES} entries, where it is fast, else norm
     * @param token  a token whose row and column are shown too (text, · for a space, or #id); may be null
     */
    public Explorer.Query<Head> headQuery(String model, Integer layer, Integer head, Integer rows, String sign, String rank, String token) {
        GptConfig c = explorer.config(model);
        if (layer == null) throw ApiException.badRequest("no layer given: " + model + " has layers 0–" + (c.nLayers() - 1));
        if (head == null) throw ApiException.badRequest("no head given: " + model + " has heads 0–" + (c.nHeads() - 1));
        int l = explorer.checkLayer(model, layer), h = explorer.checkHead(model, head);
        int k = rows == null ? DEFAULT_ROWS : rows;
        if (k < 1 || k > MAX_ROWS) throw ApiException.badRequest("rows " + k + " is out of range: 1–" + MAX_ROWS);
        String sg = sign == null || sign.isBlank() ? "positive" : sign.trim().toLowerCase(Locale.ROOT);
        if (!sg.equals("positive") && !sg.equals("negative"))
            throw ApiException.badRequest("sign must be positive or negative, not '" + sign + "'");
        HeadCircuits.Rank rk;
        if (rank == null || rank.isBlank()) rk = HeadCircuits.defaultRank(c.dVocab());
        else {
            try {
                rk = HeadCircuits.Rank.valueOf(rank.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw ApiException.badRequest("rank must be max or norm, not '" + rank + "'");
            }
        }
        Integer t = token == null || token.isBlank() ? null : explorer.token(model, token, "token");
        boolean negative = sg.equals("negative");
        HeadCircuits.Rank fr = rk;
        Map<String, Object> params = new LinkedHashMap<>();
        params.put("layer", l);
        params.put("head", h);
        params.put("rows", k);
        params.put("sign", sg);
        params.put("rank", rk.name().toLowerCase(Locale.ROOT));
        params.put("token", t);
        return new Explorer.Query<>(model, "weights-head", params, Head.class, () -> compute(model, l, h, k, negative, fr, t), bytes(c));
    }

    private Head compute(String model, int l, int h, int k, boolean negative, HeadCircuits.Rank rank, Integer token) {
        FoldedWeights w = folded(model);
        Subject s = explorer.subject(model);
        LowRank qk = HeadCircuits.qk(w, l, h), ov = HeadCircuits.ov(w, l, h);
        var qkc = HeadCircuits.read("QK", "query token", "key token", qk, rank, k, k, negative, s::token);
        var ovc = HeadCircuits.read("OV", "source token", "output token", ov, rank, k, k, negative, s::token);
        Tokens t = token == null ? null : new Tokens(HeadCircuits.token(qk, token, k, negative, s::token),
                HeadCircuits.token(ov, token, k, negative, s::token));
        return new Head(l, h, HeadCircuits.CONVENTION, qkc, ovc, t);
    }
}
