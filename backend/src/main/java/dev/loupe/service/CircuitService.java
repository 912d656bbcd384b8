package dev.loupe.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.api.ApiException;
import dev.loupe.circuits.Acdc;
import dev.loupe.circuits.CircuitAnalysis;
import dev.loupe.circuits.CircuitDataset;
import dev.loupe.circuits.CircuitDiscovery;
import dev.loupe.circuits.CircuitRunner;
import dev.loupe.circuits.CircuitTasks;
import dev.loupe.jobs.Progress;
import dev.loupe.model.GptConfig;
import dev.loupe.store.ResultCache;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Circuit discovery for the REST API and the graph view. A request names a dataset (uploaded pairs or a built-in
 * task) and a method; results are kept in the {@link ResultCache} under the id of (model, canonical request), where
 * the dataset is in its token-id form, so a text upload and the same pairs as ids share one result.
 */
@ApplicationScoped
public class CircuitService {
    public static final String ANALYSIS = "circuits";
    public static final int MAX_PAIRS = 256;
    /** Memory an analysis may hold (the clean and corrupted runs' sender outputs plus a batch). */
    public static final long MAX_BYTES = 1L << 30;

    private static final ObjectMapper JSON = new ObjectMapper();

    private final ModelEngines engines;
    private final ResultCache cache;
    private final ComputeScheduler scheduler;
    private final Map<String, CircuitRunner> runners = new LinkedHashMap<>();
    /** Prepared analyses by (model, dataset), so the graph view's live evaluations reuse the two runs. */
    private final Map<String, CircuitAnalysis> prepared = new LinkedHashMap<>(8, 0.75f, true) {
        @Override protected boolean removeEldestEntry(Map.Entry<String, CircuitAnalysis> e) { return size() > 4; }
    };

    private final int maxPairs;

    /** {@code loupe.circuits.max-pairs} (at most {@link #MAX_PAIRS}) bounds a dataset; the hosted demo lowers it. */
    public CircuitService(ModelEngines engines, ResultCache cache, ComputeScheduler scheduler,
                          @ConfigProperty(name = "loupe.circuits.max-pairs", defaultValue = "256") int maxPairs) {
        this.maxPairs = Math.max(1, Math.min(MAX_PAIRS, maxPairs));
        this.engines = engines;
        this.cache = cache;
        this.scheduler = scheduler;
    }

    /** A validated request: the dataset in token-id form, the method and the canonical JSON that keys the result. */
    public record Query(String model, CircuitDataset dataset, CircuitDiscovery.Request request, String canonical) {
        public String id() { return ResultCache.key(model, ANALYSIS, canonical); }
    }

    /**
     * Parses {@code {"dataset": {"prompts": [...]}} or {"task": "induction", "pairs": 32, "seed": 1}}, plus
     * {@code "bos"} (text prompts), {@code "method"}, {@code "steps"}, {@code "tau"}, {@code "objective"}.
     */
    public Query query(String model, JsonNode params) {
        if (params == null || !params.isObject()) throw ApiException.badRequest("the request must be a JSON object");
        ModelEngines.Loaded m = engines.get(model);
        CircuitDataset data = dataset(m, params);
        CircuitDiscovery.Request req;
        try {
            req = new CircuitDiscovery.Request(CircuitDiscovery.Method.parse(params.path("method").asText("eap-ig")),
                    intParam(params, "steps", CircuitDiscovery.Request.DEFAULT_STEPS),
                    params.has("tau") ? doubleParam(params, "tau") : CircuitDiscovery.Request.DEFAULT_TAU,
                    Acdc.Objective.parse(params.path("objective").asText("kl")));
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        }
        ObjectNode canon = req.toJson();
        canon.put("weights", m.fingerprint());
        canon.set("dataset", data.toJson());
        return new Query(m.name(), data, req, canon.toString());
    }

    private CircuitDataset dataset(ModelEngines.Loaded m, JsonNode params) {
        GptConfig c = m.model().config();
        CircuitDataset data;
        try {
            if (params.hasNonNull("task")) {
                data = CircuitTasks.generate(params.get("task").asText(), m.model().tokenizer(), c,
                        intParam(params, "pairs", 32), params.path("seed").asLong(1));
            } else if (params.has("dataset")) {
                data = CircuitDataset.fromJson(params.get("dataset"), m.model().tokenizer(), c, params.path("bos").asBoolean(true));
            } else throw new IllegalArgumentException("give a \"dataset\" ({\"prompts\": [...]}) or a built-in \"task\" (" + String.join(", ", CircuitTasks.NAMES) + ")");
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        }
        if (data.size() > maxPairs)
            throw ApiException.badRequest("the dataset has " + data.size() + " pairs; at most " + maxPairs + " are allowed (loupe.circuits.max-pairs)");
        long bytes = CircuitAnalysis.expectedBytes(c, data.size(), data.maxLength());
        if (bytes > MAX_BYTES)
            throw ApiException.badRequest(String.format(Locale.ROOT, "%d pairs of up to %d tokens need about %.1f GB on this model; use fewer or shorter pairs (limit %.1f GB)",
                    data.size(), data.maxLength(), bytes / 1e9, MAX_BYTES / 1e9));
        return data;
    }

    /** Memory the run of a query holds, for admission. */
    public long expectedBytes(Query q) {
        return CircuitAnalysis.expectedBytes(engines.get(q.model()).model().config(), q.dataset().size(), q.dataset().maxLength());
    }

    /** The result of {@code q} (computed, or from the cache): the export JSON. */
    public ResultCache.CachedJson run(Query q, Progress progress) {
        return cache.getOrComputeJson(q.model(), ANALYSIS, q.canonical(), () -> {
            ObjectNode out = CircuitDiscovery.run(analysis(q), q.request(), progress);
            out.put("model", q.model()).put("id", q.id());
            return out;
        });
    }

    /** The stored result of {@code q}, if it was computed before. */
    public java.util.Optional<byte[]> cached(Query q) { return cache.findJson(q.id(), ANALYSIS); }

    /** A stored result by id. */
    public byte[] result(String model, String id) {
        engines.entry(model);
        if (id == null || !id.matches("[0-9a-f]{64}")) throw ApiException.badRequest("'" + id + "' is not a result id");
        return cache.findJson(id, ANALYSIS).orElseThrow(() -> ApiException.notFound("no circuit result " + id + " for model '" + model + "'"));
    }

    /** Exact evaluation of a named edge set on the dataset of {@code q}: metric, KL and faithfulness. */
    public ObjectNode evaluate(String client, Query q, List<String> edgeNames) {
        return scheduler.run(client, null, expectedBytes(q), () -> evaluateNow(q, edgeNames));
    }

    private ObjectNode evaluateNow(Query q, List<String> edgeNames) {
        CircuitAnalysis a = analysis(q);
        BitSet set = new BitSet();
        for (String e : edgeNames) {
            try {
                set.set(a.edges().parseEdge(e));
            } catch (IllegalArgumentException ex) {
                throw ApiException.badRequest(ex.getMessage());
            }
        }
        CircuitAnalysis.Evaluation ev = a.evaluate(List.of(set), Progress.NONE).get(0);
        return JSON.createObjectNode().put("edges", set.cardinality()).put("metric", ev.metric()).put("kl", ev.kl())
                .put("faithfulness", a.faithfulness(ev.metric())).put("clean_metric", a.cleanMetric()).put("corrupt_metric", a.corruptMetric());
    }

    private CircuitAnalysis analysis(Query q) {
        String key = q.model() + "\n" + q.dataset().toJson();
        synchronized (prepared) {
            CircuitAnalysis a = prepared.get(key);
            if (a == null) {
                a = new CircuitAnalysis(runner(q.model()), q.dataset());
                prepared.put(key, a);
            }
            return a;
        }
    }

    private CircuitRunner runner(String model) {
        ModelEngines.Loaded m = engines.get(model);
        String key = m.name() + "@" + m.fingerprint();
        synchronized (runners) {
            CircuitRunner r = runners.get(key);
            if (r == null) { // a re-imported model replaces its old runner
                runners.entrySet().removeIf(old -> {
                    boolean stale = old.getKey().startsWith(m.name() + "@");
                    if (stale) old.getValue().close();
                    return stale;
                });
                synchronized (prepared) {
                    prepared.keySet().removeIf(k -> k.startsWith(m.name() + "\n"));
                }
                r = new CircuitRunner(m.model().weights(), Runtime.getRuntime().availableProcessors());
                runners.put(key, r);
            }
            return r;
        }
    }

    private static int intParam(JsonNode p, String name, int def) {
        JsonNode v = p.get(name);
        if (v == null || v.isNull()) return def;
        if (!v.canConvertToInt() || !v.isIntegralNumber()) throw new IllegalArgumentException("\"" + name + "\" must be a whole number, got " + v);
        return v.asInt();
    }

    private static double doubleParam(JsonNode p, String name) {
        JsonNode v = p.get(name);
        if (!v.isNumber()) throw new IllegalArgumentException("\"" + name + "\" must be a number, got " + v);
        return v.asDouble();
    }

    @PreDestroy void close() {
        synchronized (runners) {
            runners.values().forEach(CircuitRunner::close);
            runners.clear();
        }
    }
}
