package dev.loupe.service;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import dev.loupe.analysis.Subject;
import dev.loupe.analysis.TokenInfo;
import dev.loupe.api.ApiException;
import dev.loupe.grad.Backprop;
import dev.loupe.jobs.Progress;
import dev.loupe.model.GptConfig;
import dev.loupe.patching.ActivationPatching;
import dev.loupe.patching.PatchMetric;
import dev.loupe.patching.PatchMode;
import dev.loupe.patching.PatchingResult;
import dev.loupe.patching.PromptPair;
import dev.loupe.patching.Sweep;
import dev.loupe.store.ResultCache;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Activation patching for the REST API and the view: checks a request (lengths, tokens, metric position, sweep
 * size) before anything runs, runs the sweep on the model's engine and keeps the result in the {@link ResultCache}
 * under a stable id.
 */
@ApplicationScoped
public class PatchingService {
    public static final String ANALYSIS = "patching";

    /** A request in the user's terms: prompts as text (BOS prepended unless {@code bos} is false) or token ids. */
    @com.fasterxml.jackson.annotation.JsonIgnoreProperties(ignoreUnknown = true)
    public record Request(String clean, String corrupt, List<Integer> cleanTokens, List<Integer> corruptTokens, Boolean bos,
                          String metric, Integer position, String a, String b, String sweep, String direction, Boolean attribution) {}

    /**
     * The answer: the sweep's raw values, the same normalised ({@code (v − corrupted)/(clean − corrupted)}), the
     * attribution estimate and its Pearson correlation with the raw values, all nested in {@code shape}.
     */
    public record Result(String model, String sweep, List<String> axes, int[] shape, String direction, String metric,
                         TokenInfo answerA, TokenInfo answerB, List<TokenInfo> cleanTokens, List<TokenInfo> corruptTokens,
                         double cleanMetric, double corruptMetric, Object values, Object normalised, Object attribution,
                         Double attributionCorrelation, long rows, long millis) {}

    /** A validated request, ready to run: {@code compute} reports to the progress it is given. */
    public record Prepared(String model, Map<String, Object> params, long rows, java.util.function.Function<Progress, Result> compute) {
        Explorer.Query<Result> query(Progress progress) {
            return new Explorer.Query<>(model, ANALYSIS, params, Result.class, () -> compute.apply(progress));
        }
    }

    private final Explorer explorer;
    private final ModelEngines engines;
    private final ResultCache cache;
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();
    private final long maxRows;
    private final Map<String, Gradients> gradients = new ConcurrentHashMap<>();

    private record Gradients(String fingerprint, Backprop bp, Map<String, OnnxTensor> feeds) {}

    public PatchingService(Explorer explorer, ModelEngines engines, ResultCache cache,
                           @ConfigProperty(name = "loupe.patching.max-rows", defaultValue = "200000") long maxRows) {
        this.explorer = explorer;
        this.engines = engines;
        this.cache = cache;
        this.maxRows = maxRows;
    }

    public long maxRows() { return maxRows; }

    /** Checks a request and says how to compute it; every problem is a 400 naming it, before any work starts. */
    public Prepared prepare(String model, Request r) {
        if (r == null) throw ApiException.badRequest("no request body: give clean and corrupt prompts, a metric and a sweep");
        Subject s = explorer.subject(model);
        GptConfig c = s.config();
        boolean bos = r.bos() == null || r.bos();
        int[] clean = prompt(model, r.clean(), r.cleanTokens(), bos, "clean");
        int[] corrupt = prompt(model, r.corrupt(), r.corruptTokens(), bos, "corrupted");
        PromptPair pair = new PromptPair(clean, corrupt);
        Sweep sweep;
        PatchMode mode;
        PatchMetric metric;
        try {
            sweep = Sweep.parse(r.sweep() == null || r.sweep().isBlank() ? "resid_pre" : r.sweep(), c);
            mode = PatchMode.parse(r.direction());
            ActivationPatching.check(c, List.of(pair), PatchMetric.parse("kl:-1"), sweep);
            metric = PatchMetric.resolve(metricSpec(model, r), s.engine(), pair);
            ActivationPatching.check(c, List.of(pair), metric, sweep);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        }
        long rows = sweep.sites(c, clean.length).size();
        if (rows > maxRows)
            throw ApiException.badRequest("sweep " + sweep.name() + " is " + rows + " patched runs for " + clean.length + " tokens, over the limit of "
                    + maxRows + " (loupe.patching.max-rows): use a shorter prompt or a smaller sweep");
        boolean attribution = r.attribution() == null || r.attribution();
        Map<String, Object> params = new LinkedHashMap<>();
        params.put("clean", toList(clean));
        params.put("corrupt", toList(corrupt));
        params.put("metric", metric.toString());
        params.put("sweep", sweep.name());
        params.put("direction", mode.label());
        params.put("attribution", attribution);
        PatchMetric m = metric;
        return new Prepared(model, params, rows, progress -> compute(model, pair, m, sweep, mode, attribution, progress));
    }

    /** Runs (or finds) a prepared request: the answer JSON {@code {model, cached, key, millis, result}}. */
    public Explorer.JsonAnswer run(Prepared p) { return explorer.json(p.query(Progress.NONE)); }

    /** The same as a result object, reporting to {@code progress} (and stopping when it is cancelled). */
    public Explorer.Answer<Result> answer(Prepared p, Progress progress) { return explorer.answer(p.query(progress)); }

    /** The result's id before it is computed (the key the cache will give it). */
    public String id(Prepared p) {
        try {
            return ResultCache.key(engines.get(p.model()).fingerprint(), ANALYSIS, JSON.writeValueAsString(p.params()));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Memory a sweep holds at once: one chunk of rows plus the cached runs. */
    public long expectedBytes(Prepared p) { return dev.loupe.patching.ActivationPatching.DEFAULT_CHUNK_BYTES + (64L << 20); }

    /** A stored result by its id. */
    public Optional<byte[]> find(String id) { return cache.findJson(id, ANALYSIS); }

    Result compute(String model, PromptPair pair, PatchMetric metric, Sweep sweep, PatchMode mode, boolean attribution, Progress progress) {
        long t0 = System.nanoTime();
        Subject s = explorer.subject(model);
        ActivationPatching run = ActivationPatching.prepare(s.engine(), List.of(pair), metric, sweep, mode);
        PatchingResult r = run.sweep(0, progress);
        float[] attr = null;
        if (attribution) {
            Gradients g = gradients(model);
            attr = run.attribution(g.bp(), g.feeds());
        }
        int[] shape = r.shape();
        boolean twoTokens = metric.kind() == PatchMetric.Kind.LOGIT_DIFF;
        boolean oneToken = twoTokens || metric.kind() == PatchMetric.Kind.LOGPROB || metric.kind() == PatchMetric.Kind.PROB;
        return new Result(model, r.sweep(), r.axes(), shape, r.mode(), r.metric(),
                oneToken ? s.token(metric.a()) : null, twoTokens ? s.token(metric.b()) : null,
                s.tokens(pair.clean()), s.tokens(pair.corrupt()), r.cleanMetric(), r.corruptMetric(),
                PatchingResult.nested(r.values(), shape), PatchingResult.nested(r.normalised(), shape),
                attr == null ? null : PatchingResult.nested(attr, shape), attr == null ? null : pearson(attr, r.values()),
                run.rows(), (System.nanoTime() - t0) / 1_000_000);
    }

    private Gradients gradients(String model) {
        String fp = engines.get(model).fingerprint();
        Gradients g = gradients.get(model);
        if (g != null && g.fingerprint().equals(fp)) return g;
        synchronized (gradients) {
            g = gradients.get(model);
            if (g != null && g.fingerprint().equals(fp)) return g;
            Backprop bp = new Backprop(explorer.config(model));
            try {
                Gradients fresh = new Gradients(fp, bp, bp.weightFeeds(engines.get(model).model().weights()));
                Gradients old = gradients.put(model, fresh);
                if (old != null) close(old);
                return fresh;
            } catch (OrtException e) {
                bp.close();
                throw new IllegalStateException("cannot set up gradients for " + model + ": " + e.getMessage(), e);
            }
        }
    }

    private String metricSpec(String model, Request r) {
        String kind = r.metric() == null || r.metric().isBlank() ? "logit_diff" : r.metric().trim();
        if (kind.contains(":") || kind.equals("loss")) return kind;
        String pos = r.position() == null ? "-1" : r.position().toString();
        if (kind.equals("kl")) return "kl:" + pos;
        boolean hasA = r.a() != null && !r.a().isEmpty(), hasB = r.b() != null && !r.b().isEmpty();
        if (!hasA) return kind + ":" + pos; // answer tokens default to the runs' top tokens
        String spec = kind + ":" + pos + ":" + explorer.token(model, r.a(), "answer token A");
        if (kind.equals("logit_diff")) {
            if (!hasB) throw ApiException.badRequest("logit_diff needs answer token B as well as A (or neither: the runs' top tokens)");
            spec += ":" + explorer.token(model, r.b(), "answer token B");
        }
        return spec;
    }

    private int[] prompt(String model, String text, List<Integer> tokens, boolean bos, String which) {
        boolean hasText = text != null && !text.isEmpty(), hasTokens = tokens != null && !tokens.isEmpty();
        if (hasText == hasTokens)
            throw ApiException.badRequest("give the " + which + " prompt as text or as token ids (one of them)");
        if (hasTokens) {
            int vocab = explorer.config(model).dVocab();
            int[] ids = new int[tokens.size()];
            for (int i = 0; i < ids.length; i++) {
                Integer t = tokens.get(i);
                if (t == null || t < 0 || t >= vocab)
                    throw ApiException.badRequest("unknown token id " + t + " at position " + i + " of the " + which + " prompt: the vocabulary is 0–" + (vocab - 1));
                ids[i] = t;
            }
            return ids;
        }
        if (bos) return explorer.tokenize(model, text);
        int[] ids = explorer.tokenizer(model).encode(text, false);
        if (ids.length == 0) throw ApiException.badRequest("the " + which + " prompt has no tokens");
        return ids;
    }

    static Double pearson(float[] x, float[] y) {
        double mx = 0, my = 0;
        for (int i = 0; i < x.length; i++) {
            mx += x[i];
            my += y[i];
        }
        mx /= x.length;
        my /= y.length;
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.length; i++) {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }
        return sxx == 0 || syy == 0 ? null : sxy / Math.sqrt(sxx * syy);
    }

    private static List<Integer> toList(int[] a) {
        List<Integer> l = new ArrayList<>(a.length);
        for (int v : a) l.add(v);
        return l;
    }

    private static void close(Gradients g) {
        g.feeds().values().forEach(OnnxTensor::close);
        g.bp().close();
    }

    @PreDestroy
    void close() {
        gradients.values().forEach(PatchingService::close);
        gradients.clear();
    }
}
