package dev.loupe.service;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import dev.loupe.analysis.Subject;
import dev.loupe.analysis.TokenInfo;
import dev.loupe.api.ApiException;
import dev.loupe.grad.Backprop;
import dev.loupe.jobs.Progress;
import dev.loupe.model.GptConfig;
import dev.loupe.circuits.CircuitDataset;
import dev.loupe.circuits.CircuitTasks;
import dev.loupe.patching.ActivationPatching;
import dev.loupe.patching.PatchingPanels;
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

    /**
     * A request in the user's terms: one pair of prompts as text (BOS prepended unless {@code bos} is false) or token
     * ids, or a dataset of pairs: {@code dataset} in circuits' format ({@code {"prompts": [{clean, corrupt, answer,
     * wrong}]}}, see {@link CircuitDataset}) or a built-in {@code task} ({@link CircuitTasks}) of {@code pairs} pairs.
     * A dataset's pairs carry their own answer and wrong tokens (the metric's A and B). {@code meanText}: with
     * direction {@code mean}, the mean is taken over this text's positions (its own run, BOS as for the prompts)
     * instead of over the pairs' clean prompts.
     */
    @com.fasterxml.jackson.annotation.JsonIgnoreProperties(ignoreUnknown = true)
    public record Request(String clean, String corrupt, List<Integer> cleanTokens, List<Integer> corruptTokens, Boolean bos,
                          String metric, Integer position, String a, String b, String sweep, String direction, Boolean attribution,
                          com.fasterxml.jackson.databind.JsonNode dataset, String task, Integer pairs, Long seed, String meanText) {}

    /** At most this many pairs in a dataset (as circuits' built-in tasks). */
    public static final int MAX_PAIRS = 256;

    /**
     * The answer: the sweep's raw values, the same normalised ({@code (v − corrupted)/(clean − corrupted)}), the
     * attribution estimate and its Pearson correlation with the raw values, all nested in {@code shape}.
     */
    public record Result(String model, String sweep, List<String> axes, int[] shape, String direction, String metric,
                         TokenInfo answerA, TokenInfo answerB, List<TokenInfo> cleanTokens, List<TokenInfo> corruptTokens,
                         double cleanMetric, double corruptMetric, Object values, Object normalised, Object attribution,
                         Double attributionCorrelation, long rows, long millis,
                         List<String> components, int pairs, String dataset, Integer meanTextTokens) {}

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
        boolean isDataset = r.dataset() != null && !r.dataset().isNull() || r.task() != null && !r.task().isBlank();
        List<PromptPair> pairs = new ArrayList<>();
        List<PatchMetric> metrics = new ArrayList<>();
        Map<String, Object> params = new LinkedHashMap<>();
        String datasetLabel = null;
        String sweepName = r.sweep() == null || r.sweep().isBlank() ? "resid_pre" : r.sweep().trim();
        boolean panel = PatchingPanels.isPanel(sweepName);
        List<Sweep> sweeps;
        PatchMode mode;
        try {
            sweeps = panel ? PatchingPanels.components(sweepName, c) : List.of(Sweep.parse(sweepName, c));
            mode = PatchMode.parse(r.direction());
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        }
        if (isDataset) {
            if (r.clean() != null || r.corrupt() != null || r.cleanTokens() != null || r.corruptTokens() != null)
                throw ApiException.badRequest("give either one pair of prompts (clean, corrupt) or a dataset (dataset or task), not both");
            if (r.a() != null && !r.a().isEmpty() || r.b() != null && !r.b().isEmpty())
                throw ApiException.badRequest("a dataset's pairs carry their own answer and wrong tokens: leave out a and b");
            CircuitDataset data = dataset(model, r, bos);
            datasetLabel = r.task() != null && !r.task().isBlank() ? "task " + r.task().trim() : "uploaded";
            String kind = r.metric() == null || r.metric().isBlank() ? "logit_diff" : r.metric().trim();
            String pos = r.position() == null ? "-1" : r.position().toString();
            for (CircuitDataset.Pair p : data.pairs()) {
                pairs.add(new PromptPair(p.clean(), p.corrupt()));
                String spec = switch (kind) {
                    case "logit_diff" -> kind + ":" + pos + ":" + p.answer() + ":" + p.wrong();
                    case "logprob", "prob" -> kind + ":" + pos + ":" + p.answer();
                    case "kl" -> kind + ":" + pos;
                    default -> kind;
                };
                try {
                    metrics.add(PatchMetric.parse(spec));
                } catch (IllegalArgumentException e) {
                    throw ApiException.badRequest(e.getMessage());
                }
            }
            params.put("dataset", data.toJson());
        } else {
            int[] clean = prompt(model, r.clean(), r.cleanTokens(), bos, "clean");
            int[] corrupt = prompt(model, r.corrupt(), r.corruptTokens(), bos, "corrupted");
            PromptPair pair = new PromptPair(clean, corrupt);
            try {
                for (Sweep sw : sweeps) ActivationPatching.check(c, List.of(pair), PatchMetric.parse("kl:-1"), sw);
                metrics.add(PatchMetric.resolve(metricSpec(model, r), s.engine(), pair));
            } catch (IllegalArgumentException e) {
                throw ApiException.badRequest(e.getMessage());
            }
            pairs.add(pair);
            params.put("clean", toList(clean));
            params.put("corrupt", toList(corrupt));
        }
        int[] meanText = meanText(model, r, mode, bos);
        try {
            for (Sweep sw : sweeps) {
                ActivationPatching.check(c, pairs, metrics, sw);
                if (meanText != null) ActivationPatching.checkMeanText(c, sw, meanText);
            }
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        }
        if (meanText != null) params.put("meanText", toList(meanText));
        int len = pairs.get(0).clean().length;
        long rows = panel ? PatchingPanels.rows(sweepName, c, len, pairs.size()) : (long) sweeps.get(0).sites(c, len).size() * pairs.size();
        String name = panel ? sweepName : sweeps.get(0).name();
        if (rows > maxRows)
            throw ApiException.badRequest("sweep " + name + " is " + rows + " patched runs for " + len + " tokens" + (pairs.size() > 1 ? " × " + pairs.size() + " pairs" : "")
                    + ", over the limit of " + maxRows + " (loupe.patching.max-rows): use a shorter prompt, fewer pairs or a smaller sweep");
        // path patching has no linear estimate
        boolean attribution = (r.attribution() == null || r.attribution()) && sweeps.stream().noneMatch(sw -> sw.kind() == Sweep.Kind.PATH);
        params.put("metric", metrics.get(0).toString());
        params.put("sweep", name);
        params.put("direction", mode.label());
        params.put("attribution", attribution);
        Job job = new Job(List.copyOf(pairs), List.copyOf(metrics), name, panel, mode, meanText, attribution, datasetLabel);
        return new Prepared(model, params, rows, progress -> compute(model, job, progress));
    }

    /** What {@link #compute} runs: the pairs with their metrics, a sweep or panel name, the mode. */
    record Job(List<PromptPair> pairs, List<PatchMetric> metrics, String sweep, boolean panel, PatchMode mode, int[] meanText,
               boolean attribution, String dataset) {}

    /** The tokens of the request's mean text (null when none is given); only the mean ablation takes one. */
    private int[] meanText(String model, Request r, PatchMode mode, boolean bos) {
        if (r.meanText() == null) return null;
        if (mode != PatchMode.MEAN)
            throw ApiException.badRequest("meanText is used only by the mean ablation: give direction mean, or leave meanText out");
        if (r.meanText().isBlank()) throw ApiException.badRequest("the mean text is empty: give a text to take the mean over, or leave meanText out");
        try {
            return bos ? explorer.tokenize(model, r.meanText()) : explorer.tokenizer(model).encode(r.meanText(), false);
        } catch (ApiException e) {
            if (e.status() != jakarta.ws.rs.core.Response.Status.BAD_REQUEST) throw e;
            String m = e.getMessage();
            throw ApiException.badRequest(m.startsWith("the prompt ") ? "the mean text " + m.substring("the prompt ".length()) : "mean text: " + m);
        }
    }

    /** The dataset of a request: uploaded pairs, or a built-in task's pairs of its most common length. */
    private CircuitDataset dataset(String model, Request r, boolean bos) {
        GptConfig c = explorer.config(model);
        CircuitDataset data;
        try {
            if (r.dataset() != null && !r.dataset().isNull()) {
                if (r.task() != null && !r.task().isBlank()) throw new IllegalArgumentException("give a dataset or a task, not both");
                data = CircuitDataset.fromJson(r.dataset(), explorer.tokenizer(model), c, bos);
            } else {
                data = CircuitTasks.generate(r.task().trim(), explorer.tokenizer(model), c, r.pairs() == null ? 16 : r.pairs(), r.seed() == null ? 1 : r.seed());
                // a sweep over positions needs one length: keep the pairs of the task's most common length
                Map<Integer, Integer> counts = new java.util.TreeMap<>();
                for (CircuitDataset.Pair p : data.pairs()) counts.merge(p.length(), 1, Integer::sum);
                int best = counts.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
                data = new CircuitDataset(data.pairs().stream().filter(p -> p.length() == best).toList());
            }
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        }
        if (data.size() > MAX_PAIRS) throw ApiException.badRequest("the dataset has " + data.size() + " pairs; at most " + MAX_PAIRS + " are allowed");
        return data;
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

    Result compute(String model, Job job, Progress progress) {
        long t0 = System.nanoTime();
        Subject s = explorer.subject(model);
        PatchingResult r;
        long rows;
        Gradients g = job.attribution() ? gradients(model) : null;
        List<String> components = null;
        if (job.panel()) {
            r = PatchingPanels.run(s.engine(), job.pairs(), job.metrics(), job.sweep(), job.mode(), job.meanText(), 0, progress, g == null ? null : g.bp(), g == null ? null : g.feeds());
            rows = PatchingPanels.rows(job.sweep(), s.config(), job.pairs().get(0).clean().length, job.pairs().size());
            components = PatchingPanels.components(job.sweep(), s.config()).stream().map(Sweep::name).toList();
        } else {
            ActivationPatching run = ActivationPatching.prepare(s.engine(), job.pairs(), job.metrics(), Sweep.parse(job.sweep(), s.config()), job.mode(), job.meanText());
            r = run.sweep(0, progress);
            if (g != null) r = new PatchingResult(r.sweep(), r.mode(), r.metric(), r.axes(), r.shape(), r.values(), r.cleanMetric(), r.corruptMetric(),
                    run.attribution(g.bp(), g.feeds()));
            rows = run.rows();
        }
        float[] attr = r.attribution();
        int[] shape = r.shape();
        PatchMetric metric = job.metrics().get(0);
        boolean single = job.dataset() == null;
        boolean twoTokens = metric.kind() == PatchMetric.Kind.LOGIT_DIFF;
        boolean oneToken = twoTokens || metric.kind() == PatchMetric.Kind.LOGPROB || metric.kind() == PatchMetric.Kind.PROB;
        PromptPair first = job.pairs().get(0);
        return new Result(model, r.sweep(), r.axes(), shape, r.mode(), single ? r.metric() : datasetMetric(metric),
                single && oneToken ? s.token(metric.a()) : null, single && twoTokens ? s.token(metric.b()) : null,
                s.tokens(first.clean()), s.tokens(first.corrupt()), r.cleanMetric(), r.corruptMetric(),
                PatchingResult.nested(r.values(), shape), PatchingResult.nested(r.normalised(), shape),
                attr == null ? null : PatchingResult.nested(attr, shape), attr == null ? null : pearson(attr, r.values()),
                rows, (System.nanoTime() - t0) / 1_000_000, components, job.pairs().size(), job.dataset(),
                job.meanText() == null ? null : job.meanText().length);
    }

    /** A dataset's metric with its per-pair tokens named, e.g. {@code logit_diff:-1:answer:wrong}. */
    private static String datasetMetric(PatchMetric m) {
        return switch (m.kind()) {
            case LOGIT_DIFF -> "logit_diff:" + m.pos() + ":answer:wrong";
            case LOGPROB -> "logprob:" + m.pos() + ":answer";
            case PROB -> "prob:" + m.pos() + ":answer";
            default -> m.toString();
        };
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
        String spec = kind + ":" + pos + ":" + answer(model, r.a(), "A");
        if (kind.equals("logit_diff")) {
            if (!hasB) throw ApiException.badRequest("logit_diff needs answer token B as well as A (or neither: the runs' top tokens)");
            spec += ":" + answer(model, r.b(), "B");
        }
        return spec;
    }

    /** An answer token's id; the message of a bad one says which answer it is. */
    private int answer(String model, String spec, String which) {
        try {
            return explorer.token(model, spec, "answer token " + which);
        } catch (ApiException e) {
            if (e.status() != jakarta.ws.rs.core.Response.Status.BAD_REQUEST) throw e;
            throw ApiException.badRequest("answer token " + which + ": " + e.getMessage());
        }
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
