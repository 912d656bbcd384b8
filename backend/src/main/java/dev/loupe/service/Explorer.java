package dev.loupe.service;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.analysis.AllHeadsAttention;
import dev.loupe.analysis.AttentionPatterns;
import dev.loupe.analysis.DirectLogitAttribution;
import dev.loupe.analysis.DlaBySource;
import dev.loupe.analysis.HeadDetectors;
import dev.loupe.analysis.LogitLens;
import dev.loupe.analysis.Predictions;
import dev.loupe.analysis.PromptComparison;
import dev.loupe.analysis.Subject;
import dev.loupe.generation.Generation;
import dev.loupe.api.ApiException;
import dev.loupe.model.GptConfig;
import dev.loupe.model.ModelFolder;
import dev.loupe.store.ResultCache;
import dev.loupe.tokenizer.Tokenizer;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The explorer's analyses for the REST API and the views: validates input with messages a user can act on, runs
 * the analysis on the model's engine and keeps the result in the {@link ResultCache}.
 */
@ApplicationScoped
public class Explorer {
    public static final int TOP_K = 10;
    public static final int LENS_TOP_K = 5;
    public static final int MAX_DETECTOR_BATCH = 16;
    /** Default detector input: 2 sequences of BOS + 40 random tokens twice (81 tokens each). */
    public static final int DETECTOR_LENGTH = 40, DETECTOR_BATCH = 2;

    /** A result with where it came from. */
    public record Answer<T>(String model, boolean cached, String key, long millis, T result) {}

    /** The same as JSON: {@code {"model", "cached", "key", "millis", "result"}}, built without decoding a cached result. */
    public record JsonAnswer(boolean cached, String key, byte[] json) {}

    /**
     * A validated request: which analysis on which model with which parameters, how to compute it, and the memory the
     * computation is expected to need at its peak (admitted by the {@link ComputeScheduler}).
     */
    public record Query<T>(String model, String analysis, Map<String, Object> params, Class<T> type, Supplier<T> compute,
                           long expectedBytes) {
        public Query(String model, String analysis, Map<String, Object> params, Class<T> type, Supplier<T> compute) {
            this(model, analysis, params, type, compute, DEFAULT_BYTES);
        }
    }

    /** The client of calls that name none (the command line, tests). */
    public static final String LOCAL_CLIENT = "local";
    static final long DEFAULT_BYTES = 64L << 20;

    private static final ObjectMapper JSON = new ObjectMapper();

    private final ModelCatalog catalog;
    private final ModelEngines engines;
    private final ResultCache cache;
    private final ComputeScheduler scheduler;
    private final Optional<String> defaultModel;
    private final int maxPromptTokens;

    public Explorer(ModelCatalog catalog, ModelEngines engines, ResultCache cache, ComputeScheduler scheduler,
                    Optional<String> defaultModel) {
        this(catalog, engines, cache, scheduler, defaultModel, Optional.empty());
    }

    /** {@code loupe.max-prompt-tokens} caps prompts below the model's context (the hosted demo sets it). */
    @Inject
    public Explorer(ModelCatalog catalog, ModelEngines engines, ResultCache cache, ComputeScheduler scheduler,
                    @ConfigProperty(name = "loupe.default-model") Optional<String> defaultModel,
                    @ConfigProperty(name = "loupe.max-prompt-tokens") Optional<Integer> maxPromptTokens) {
        this.maxPromptTokens = maxPromptTokens.filter(n -> n > 0).orElse(Integer.MAX_VALUE);
        this.catalog = catalog;
        this.engines = engines;
        this.cache = cache;
        this.scheduler = scheduler;
        this.defaultModel = defaultModel.filter(s -> !s.isBlank());
    }

    /** The model opened by default (see {@link ModelFolder#chooseDefault}). */
    public Optional<String> defaultModel() {
        var usable = catalog.entries().stream().filter(ModelCatalog.Entry::available).map(ModelCatalog.Entry::folder).toList();
        return ModelFolder.chooseDefault(usable, defaultModel).map(ModelFolder::name);
    }

    public GptConfig config(String model) { return engines.entry(model).folder().config(); }

    public Tokenizer tokenizer(String model) { return engines.get(model).model().tokenizer(); }

    public Subject subject(String model) { return engines.get(model).subject(); }

    /** The first position whose prediction the model was trained on (see {@link ModelFolder#scoredAfter()}). */
    public int scoredAfter(String model) { return engines.entry(model).folder().scoredAfter(); }

    // ---------------------------------------------------------------- input

    /** The prompt's ids with BOS prepended, or a 400 naming what is wrong. */
    public int[] tokenize(String model, String text) {
        if (text == null || text.isBlank()) throw ApiException.badRequest("the prompt is empty: type some text");
        Subject s = subject(model);
        int[] ids;
        try {
            ids = s.tokenizer().encode(text);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        }
        int ctx = s.config().nCtx();
        if (ids.length > ctx)
            throw ApiException.badRequest("the prompt is " + ids.length + " tokens long" + (s.tokenizer().bosId() >= 0 ? " (with the BOS token)" : "")
                    + ", more than the context of "
                    + model + " (" + ctx + " tokens)");
        if (ids.length > maxPromptTokens)
            throw ApiException.badRequest("the prompt is " + ids.length + " tokens long, more than this server allows (" + maxPromptTokens
                    + " tokens, loupe.max-prompt-tokens); use a shorter prompt");
        if (ids.length < 1) throw ApiException.badRequest("the prompt has no tokens");
        return ids;
    }

    /**
     * One token, given as its text (· and ↵ stand for space and newline) or as {@code #id}; it must be exactly one
     * token of the model's vocabulary.
     */
    public int token(String model, String spec, String what) {
        if (spec == null || spec.isEmpty()) throw ApiException.badRequest("no " + what + " given");
        Subject s = subject(model);
        int vocab = s.config().dVocab();
        if (spec.matches("#\\d{1,9}")) {
            int id = Integer.parseInt(spec.substring(1));
            if (id >= vocab || id >= s.tokenizer().vocabSize())
                throw ApiException.badRequest("unknown token: id " + id + " is outside the vocabulary of " + model + " (0–" + (vocab - 1) + ")");
            return id;
        }
        String text = spec.replace('·', ' ').replace('↵', '\n').replace('→', '\t');
        int[] ids;
        try {
            ids = s.tokenizer().encode(text, false);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest("unknown token '" + spec + "': " + e.getMessage());
        }
        if (ids.length != 1) {
            throw ApiException.badRequest("unknown token '" + spec + "': it is " + ids.length + " tokens of " + model + "'s vocabulary"
                    + (ids.length > 1 ? " (" + String.join(" | ", s.tokenizer().displayAll(ids, true)) + ")" : "")
                    + "; give a single token, e.g. with a leading space (·Paris), or its id as #123");
        }
        return ids[0];
    }

    public int checkLayer(String model, Integer layer) {
        int n = config(model).nLayers();
        if (layer == null) return 0;
        if (layer < 0 || layer >= n)
            throw ApiException.badRequest("layer " + layer + " is out of range: " + model + " has layers 0–" + (n - 1));
        return layer;
    }

    public int checkHead(String model, Integer head) {
        int n = config(model).nHeads();
        if (head == null) return -1; // all heads of the layer
        if (head < 0 || head >= n)
            throw ApiException.badRequest("head " + head + " is out of range: " + model + " has heads 0–" + (n - 1) + " in every layer");
        return head;
    }

    public int checkPosition(int[] ids, Integer position) {
        if (position == null) return ids.length - 1;
        int p = position < 0 ? ids.length + position : position;
        if (p < 0 || p >= ids.length)
            throw ApiException.badRequest("position " + position + " is out of range: the prompt has positions 0–" + (ids.length - 1));
        return p;
    }

    // ---------------------------------------------------------------- analyses

    public Answer<Predictions.Result> prompt(String model, String text) {
        return answer(promptQuery(model, text));
    }

    public Query<Predictions.Result> promptQuery(String model, String text) {
        int[] ids = tokenize(model, text);
        return new Query<>(model, "prompt", params("ids", ids, "k", TOP_K), Predictions.Result.class,
                () -> Predictions.compute(subject(model), ids, TOP_K), forwardBytes(config(model), 1, ids.length, 2));
    }

    public Answer<LogitLens.Result> logitLens(String model, String text, String token) {
        return answer(logitLensQuery(model, text, token));
    }

    public Query<LogitLens.Result> logitLensQuery(String model, String text, String token) {
        return logitLensQuery(model, text, token, null);
    }

    /** @param stream resid_pre (default), resid_mid, resid_post, attn_out, mlp_out or all */
    public Query<LogitLens.Result> logitLensQuery(String model, String text, String token, String stream) {
        return logitLensQuery(model, text, token, stream, 0);
    }

    /**
     * The lens of positions {@code from..} only (earlier cells null; 0: every position): what a view shows first of
     * a long prompt, at a fraction of the cost.
     */
    public Query<LogitLens.Result> logitLensQuery(String model, String text, String token, String stream, int from) {
        int[] ids = tokenize(model, text);
        Integer target = token == null || token.isEmpty() ? null : token(model, token, "token");
        LogitLens.Stream st = lensStream(model, stream);
        GptConfig c = config(model);
        int rows = LogitLens.rows(c, st).size();
        // the default stream keeps its earlier cache key
        int first = Math.max(0, Math.min(from, ids.length - 1));
        Map<String, Object> p = st == LogitLens.Stream.RESID_PRE ? params("ids", ids, "target", target, "k", LENS_TOP_K)
                : params("ids", ids, "target", target, "k", LENS_TOP_K, "stream", st.key());
        if (first > 0) p.put("from", first);
        return new Query<>(model, "logit-lens", p, LogitLens.Result.class,
                () -> LogitLens.compute(subject(model), ids, st, target, LENS_TOP_K, first),
                forwardBytes(c, 1, ids.length, Math.min(rows, 12) + 1) + 4L * rows * ids.length * c.dModel());
    }

    /** A lens stream by its name, or a 400 listing the model's streams. */
    public LogitLens.Stream lensStream(String model, String stream) {
        if (stream == null || stream.isBlank()) return LogitLens.Stream.RESID_PRE;
        LogitLens.Stream st;
        try {
            st = LogitLens.Stream.parse(stream.trim());
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        }
        if (!st.existsIn(config(model)))
            throw ApiException.badRequest(model + " is attention-only: it has no " + st.key() + "; streams: resid_pre, resid_post, attn_out, all");
        return st;
    }

    public Answer<AttentionPatterns.Result> attention(String model, String text, Integer layer, Integer head) {
        return answer(attentionQuery(model, text, layer, head));
    }

    public Query<AttentionPatterns.Result> attentionQuery(String model, String text, Integer layer, Integer head) {
        int[] ids = tokenize(model, text);
        int l = checkLayer(model, layer);
        int h = checkHead(model, head);
        return new Query<>(model, "attention", params("ids", ids, "layer", l, "head", h), AttentionPatterns.Result.class,
                () -> AttentionPatterns.compute(subject(model), ids, l, h), forwardBytes(config(model), 1, ids.length, 0));
    }

    /** Every head of every layer; value-weighted: A[q][k] · ‖v_k W_O^h‖. */
    public Query<AllHeadsAttention.Result> allHeadsQuery(String model, String text, boolean valueWeighted) {
        int[] ids = tokenize(model, text);
        return new Query<>(model, "attention-heads", params("ids", ids, "weighted", valueWeighted), AllHeadsAttention.Result.class,
                () -> AllHeadsAttention.compute(subject(model), ids, valueWeighted), forwardBytes(config(model), 1, ids.length, 0));
    }

    /** @param a the token whose logit is attributed; null: the model's top prediction at the position */
    public Answer<DirectLogitAttribution.Result> dla(String model, String text, Integer position, String a, String b) {
        return answer(dlaQuery(model, text, position, a, b));
    }

    public Query<DirectLogitAttribution.Result> dlaQuery(String model, String text, Integer position, String a, String b) {
        DlaInput in = dlaInput(model, text, position, a, b);
        return new Query<>(model, "dla", params("ids", in.ids, "position", in.position, "a", in.a, "b", in.b), DirectLogitAttribution.Result.class,
                () -> DirectLogitAttribution.compute(subject(model), in.ids, in.position, in.a, in.b), forwardBytes(config(model), 1, in.ids.length, 2));
    }

    /** The attribution with every head split by source position (which earlier token its contribution came from). */
    public Query<DlaBySource.Result> dlaSourcesQuery(String model, String text, Integer position, String a, String b) {
        DlaInput in = dlaInput(model, text, position, a, b);
        return new Query<>(model, "dla-sources", params("ids", in.ids, "position", in.position, "a", in.a, "b", in.b), DlaBySource.Result.class,
                () -> DlaBySource.compute(subject(model), in.ids, in.position, in.a, in.b), forwardBytes(config(model), 1, in.ids.length, 2));
    }

    private record DlaInput(int[] ids, int position, int a, Integer b) {}

    private DlaInput dlaInput(String model, String text, Integer position, String a, String b) {
        int[] ids = tokenize(model, text);
        int p = checkPosition(ids, position);
        int ta = a == null || a.isEmpty() ? topPrediction(model, text, p) : token(model, a, "token A");
        Integer tb = b == null || b.isEmpty() ? null : token(model, b, "token B");
        return new DlaInput(ids, p, ta, tb);
    }

    /** The analysis name of generations (in the result cache and as a job kind). */
    public static final String GENERATION = "generate";

    /** Tokens a generation adds by default, and at most (besides the context). */
    public static final int GENERATE_DEFAULT = 20, GENERATE_MAX = 512;

    /**
     * A continuation of the prompt (see {@link Generation} for the sampling rule): {@code maxNew} tokens at most,
     * bounded by the context; temperature 0 is greedy; top-k 0 keeps every token.
     */
    public Query<Generation.Result> generateQuery(String model, String text, Integer maxNew, Double temperature, Integer topK,
                                                  Long seed, Boolean stopAtEos) {
        return generateQuery(model, text, maxNew, temperature, topK, seed, stopAtEos, dev.loupe.jobs.Progress.NONE);
    }

    /**
     * As {@link #generateQuery(String, String, Integer, Double, Integer, Long, Boolean)}, reporting each new token to
     * {@code progress} (tokens generated / tokens asked) and stopping between tokens when it is cancelled; the result's
     * key is the same.
     */
    public Query<Generation.Result> generateQuery(String model, String text, Integer maxNew, Double temperature, Integer topK,
                                                  Long seed, Boolean stopAtEos, dev.loupe.jobs.Progress progress) {
        int[] ids = tokenize(model, text);
        GptConfig c = config(model);
        int room = c.nCtx() - ids.length;
        if (room < 1)
            throw ApiException.badRequest("the prompt fills the context of " + model + " (" + c.nCtx() + " tokens): there is no room to generate");
        int n = maxNew == null ? Math.min(GENERATE_DEFAULT, room) : maxNew;
        if (n < 1 || n > Math.min(room, GENERATE_MAX))
            throw ApiException.badRequest("maxNew " + n + " is out of range: the prompt is " + ids.length + " tokens and the context "
                    + c.nCtx() + ", so 1–" + Math.min(room, GENERATE_MAX) + " new tokens");
        double t = temperature == null ? 0 : temperature;
        if (!(t >= 0 && t <= 10)) throw ApiException.badRequest("temperature " + t + " is out of range: 0 (greedy) to 10");
        int k = topK == null ? 0 : topK;
        if (k < 0 || k > c.dVocab()) throw ApiException.badRequest("topK " + k + " is out of range: 0 (every token) to " + c.dVocab());
        var o = new Generation.Options(n, t, k, seed == null ? 0 : seed, stopAtEos == null || stopAtEos);
        return new Query<>(model, GENERATION, params("ids", ids, "maxNew", o.maxNew(), "temperature", o.temperature(), "topK", o.topK(),
                "seed", o.seed(), "stopAtEos", o.stopAtEos()), Generation.Result.class,
                () -> Generation.generate(subject(model), ids, o, progress), forwardBytes(c, 1, ids.length + n, 1));
    }

    /** Prompts a comparison takes at most. */
    public static final int MAX_COMPARE = 200;

    /**
     * One metric over a list of prompts (blank lines left out): {@code logit_diff} (a and b), {@code prob} (a) at the
     * last position, or {@code loss}.
     */
    public Query<PromptComparison.Result> compareQuery(String model, java.util.List<String> texts, String metric, String a, String b) {
        java.util.List<String> kept = texts == null ? java.util.List.of() : texts.stream().filter(t -> t != null && !t.isBlank()).toList();
        if (kept.isEmpty()) throw ApiException.badRequest("no prompts: give one or more (text=...&text=..., one per line in the view)");
        if (kept.size() > MAX_COMPARE) throw ApiException.badRequest(kept.size() + " prompts are more than " + MAX_COMPARE);
        PromptComparison.Metric m;
        try {
            m = PromptComparison.Metric.parse(metric == null || metric.isBlank() ? "logit_diff" : metric.trim());
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        }
        Integer ta = null, tb = null;
        if (m != PromptComparison.Metric.LOSS) ta = token(model, a, "token A (" + m.key() + " needs it)");
        if (m == PromptComparison.Metric.LOGIT_DIFF) tb = token(model, b, "token B (logit_diff needs it)");
        java.util.List<int[]> ids = new java.util.ArrayList<>();
        java.util.List<Object> idLists = new java.util.ArrayList<>();
        for (int i = 0; i < kept.size(); i++) {
            int[] one;
            try {
                one = tokenize(model, kept.get(i));
            } catch (ApiException e) {
                throw ApiException.badRequest("prompt " + (i + 1) + ": " + e.getMessage());
            }
            ids.add(one);
            idLists.add(Arrays.stream(one).boxed().toList());
        }
        int longest = ids.stream().mapToInt(x -> x.length).max().orElse(1);
        Integer fa = ta, fb = tb;
        return new Query<>(model, "compare", params("prompts", idLists, "texts", kept, "metric", m.key(), "a", ta, "b", tb),
                PromptComparison.Result.class, () -> PromptComparison.compute(subject(model), kept, ids, m, fa, fb),
                forwardBytes(config(model), 1, longest, 2));
    }

    public Answer<HeadDetectors.Result> detectors(String model, Integer length, Integer batch, Long seed) {
        return answer(detectorsQuery(model, length, batch, seed));
    }

    public Query<HeadDetectors.Result> detectorsQuery(String model, Integer length, Integer batch, Long seed) {
        GptConfig c = config(model);
        int lead = tokenizer(model).bosId() >= 0 ? 1 : 0;
        int maxLen = (c.nCtx() - lead) / 2;
        if (maxLen < 2)
            throw ApiException.badRequest("the context of " + c.nCtx() + " tokens is too short for the head detectors: they need "
                    + (lead == 1 ? "BOS and " : "") + "a sequence of at least 2 tokens twice (" + (lead + 4) + " tokens)");
        int n = length == null ? Math.min(DETECTOR_LENGTH, maxLen) : length;
        if (n < 2 || n > maxLen)
            throw ApiException.badRequest("sequence length " + n + " is out of range: " + (lead == 1 ? "BOS + " : "") + "the sequence twice must fit the context of "
                    + c.nCtx() + ", so 2–" + maxLen);
        int bt = batch == null ? DETECTOR_BATCH : batch;
        if (bt < 1 || bt > MAX_DETECTOR_BATCH) throw ApiException.badRequest("batch " + bt + " is out of range: 1–" + MAX_DETECTOR_BATCH);
        long sd = seed == null ? 0 : seed;
        return new Query<>(model, "detectors", params("length", n, "batch", bt, "seed", sd), HeadDetectors.Result.class,
                () -> HeadDetectors.compute(subject(model), n, bt, sd), forwardBytes(c, bt, 2 * n + 1, 0));
    }

    private int topPrediction(String model, String text, int position) {
        return prompt(model, text).result().positions().get(position).next().get(0).id();
    }

    /**
     * The peak memory of a forward pass over {@code batch} sequences of {@code tokens}: per layer the attention scores
     * and patterns and the residual and MLP activations, plus {@code logitCopies} vocabulary-sized rows per token.
     */
    public static long forwardBytes(GptConfig c, int batch, int tokens, int logitCopies) {
        long t = tokens;
        long perLayer = 3L * c.nHeads() * t * t + t * (8L * c.dModel() + 3L * c.dMlp());
        long floats = batch * (c.nLayers() * perLayer + logitCopies * t * c.dVocab());
        return 16L * (1 << 20) + 4 * floats;
    }

    /**
     * A stored comparison by its id (its {@link Answer#key()}): how a list too long for a URL is shared; empty when
     * the cache no longer holds it. An id of another model's comparison is refused: the page would show that
     * model's rows under this model's name.
     */
    public Optional<PromptComparison.Result> storedComparison(String model, String id) {
        String mine = engines.get(model).fingerprint();
        Optional<String> owner = cache.modelOf(id, "compare");
        if (owner.isEmpty()) return Optional.empty();
        if (!owner.get().equals(mine)) {
            String name = owner.get().contains("@") ? owner.get().substring(0, owner.get().indexOf('@')) : owner.get();
            throw ApiException.badRequest("comparison " + id + " is of " + (name.equals(model) ? "an earlier import of " + model : "model '" + name + "'")
                    + ", not of " + model + ": open it on that model's page, or paste the prompts and run again");
        }
        return stored(id, "compare", PromptComparison.Result.class);
    }

    /** A query's result when the cache holds it, without computing it. */
    public <T> Optional<T> cached(Query<T> q) {
        return stored(id(q), q.analysis(), q.type());
    }

    /** The key the cache gives (or gave) a query's result, known before it is computed: the result's stable id. */
    public String id(Query<?> q) {
        return ResultCache.key(engines.get(q.model()).fingerprint(), q.analysis(), requestJson(q));
    }

    /**
     * A stored result of {@code analysis} by its id, as the REST answer {@code {"model", "cached": true, "key",
     * "millis": 0, "result"}}; empty when the cache does not hold it. An id of another model's result (or of an
     * earlier import of this one) is empty too: its tokens would be read with this model's names.
     */
    public Optional<byte[]> storedAnswer(String model, String id, String analysis) {
        if (id == null || !id.matches("[0-9a-f]{64}")) throw ApiException.badRequest("result id '" + id + "' is not a 64-digit hex key");
        String mine = engines.get(model).fingerprint();
        if (!cache.modelOf(id, analysis).map(mine::equals).orElse(false)) return Optional.empty();
        return cache.findJson(id, analysis).map(json -> envelope(model, true, id, 0, json));
    }

    private <T> Optional<T> stored(String key, String analysis, Class<T> type) {
        return cache.findJson(key, analysis).map(json -> {
            try {
                return JSON.readValue(json, type);
            } catch (java.io.IOException e) {
                throw new IllegalStateException("unreadable stored " + analysis + " " + key + ": " + e.getMessage(), e);
            }
        });
    }

    /** Runs a query through the result cache; a computation is admitted by the scheduler as the local client. */
    public <T> Answer<T> answer(Query<T> q) {
        return answer(q, LOCAL_CLIENT);
    }

    /** Runs a query through the result cache; a computation is admitted by the scheduler for {@code client}. */
    public <T> Answer<T> answer(Query<T> q, String client) {
        return answer(q, client, null);
    }

    /** As {@link #answer(Query, String)}, waiting at most {@code maxWait} for the scheduler (null: its limit). */
    public <T> Answer<T> answer(Query<T> q, String client, Duration maxWait) {
        long t0 = System.nanoTime();
        var c = cache.getOrCompute(engines.get(q.model()).fingerprint(), q.analysis(), requestJson(q), q.type(), scheduled(q, client, maxWait));
        return new Answer<>(q.model(), c.hit(), c.key(), (System.nanoTime() - t0) / 1_000_000, c.value());
    }

    /** As {@link #json(Query, String)} for the local client. */
    public JsonAnswer json(Query<?> q) {
        return json(q, LOCAL_CLIENT);
    }

    /** Runs a query through the result cache, answering JSON (the REST API's body). */
    public JsonAnswer json(Query<?> q, String client) {
        long t0 = System.nanoTime();
        var c = cache.getOrComputeJson(engines.get(q.model()).fingerprint(), q.analysis(), requestJson(q), scheduled(q, client, null));
        return new JsonAnswer(c.hit(), c.key(), envelope(q.model(), c.hit(), c.key(), (System.nanoTime() - t0) / 1_000_000, c.json()));
    }

    /** {@code {"model", "cached", "key", "millis", "result"}} around a result's JSON, without decoding it. */
    private static byte[] envelope(String model, boolean cached, String key, long millis, byte[] result) {
        byte[] head;
        try {
            head = ("{\"model\":" + JSON.writeValueAsString(model) + ",\"cached\":" + cached + ",\"key\":\"" + key
                    + "\",\"millis\":" + millis + ",\"result\":").getBytes(java.nio.charset.StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        byte[] out = new byte[head.length + result.length + 1];
        System.arraycopy(head, 0, out, 0, head.length);
        System.arraycopy(result, 0, out, head.length, result.length);
        out[out.length - 1] = '}';
        return out;
    }

    /** The query's computation behind the scheduler; identical requests share one run. */
    private <T> Supplier<T> scheduled(Query<T> q, String client, Duration maxWait) {
        String key = q.model() + "\n" + q.analysis() + "\n" + requestJson(q);
        return () -> maxWait == null ? scheduler.run(client, key, q.expectedBytes(), q.compute()::get)
                : scheduler.run(client, key, q.expectedBytes(), maxWait, q.compute()::get);
    }

    private static String requestJson(Query<?> q) {
        try {
            return JSON.writeValueAsString(q.params());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Map<String, Object> params(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1] instanceof int[] a ? Arrays.stream(a).boxed().toList() : kv[i + 1]);
        return m;
    }
}
