package dev.loupe.service;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.api.ApiException;
import dev.loupe.hooks.HookPoints;
import dev.loupe.model.GptConfig;
import dev.loupe.neurons.IndexFiles;
import dev.loupe.neurons.NeuronIndex;
import dev.loupe.neurons.NeuronPage;
import dev.loupe.neurons.WeightStats;
import dev.loupe.neurons.WeightsHash;
import dev.loupe.runtime.RunRequest;
import dev.loupe.runtime.RunResult;
import dev.loupe.tokenizer.Tokenizer;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Neuron pages, the neuron browser and search over a model's neuron index; "test your own text" and expanded
 * windows run the model. The index of a model is found in the data directory or the model folder
 * ({@link IndexFiles}) and used only when it belongs to the model's current weights; it is read once and kept.
 */
@ApplicationScoped
public class NeuronService {
    public static final int SEARCH_RESULTS = 50;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ModelEngines engines;
    private final ComputeScheduler scheduler;
    private final Path dataDir;
    /** model → (weights fingerprint, the index found for it) */
    private final Map<String, Held> held = new ConcurrentHashMap<>();
    private final Map<String, String> shaByFingerprint = new ConcurrentHashMap<>();

    /** A loaded index with what pages need: token strings resolved once, and the browser's rows. */
    record Held(String fingerprint, IndexFiles.Lookup lookup, NeuronPage page, List<NeuronIndex.Neuron> all) {}

    public NeuronService(ModelEngines engines, ComputeScheduler scheduler,
                         @ConfigProperty(name = "loupe.data-dir", defaultValue = "data") String dataDir) {
        this.engines = engines;
        this.scheduler = scheduler;
        this.dataDir = Path.of(dataDir).toAbsolutePath().normalize();
    }

    public Path dataDir() { return dataDir; }

    /** The SHA-256 of a model's weights, computed once per version of the file. */
    String sha256(ModelCatalog.Entry e) {
        return shaByFingerprint.computeIfAbsent(ModelEngines.fingerprint(e), f -> {
            try {
                return WeightsHash.sha256(e.folder().weightsFile());
            } catch (IOException ex) {
                throw new UncheckedIOException(ex);
            }
        });
    }

    private Held held(String model) {
        ModelCatalog.Entry e = engines.entry(model);
        String fp = ModelEngines.fingerprint(e);
        Held h = held.get(model);
        if (h != null && h.fingerprint().equals(fp)) return h;
        synchronized (this) {
            h = held.get(model);
            if (h != null && h.fingerprint().equals(fp)) return h;
            IndexFiles.Lookup lookup = IndexFiles.load(dataDir, e.folder(), sha256(e));
            NeuronPage page = null;
            List<NeuronIndex.Neuron> all = List.of();
            if (lookup.found()) {
                page = new NeuronPage(lookup.index(), engines.get(model).model().tokenizer());
                all = new ArrayList<>();
                NeuronIndex.Meta m = lookup.index().meta();
                for (int l = 0; l < m.layers(); l++) for (int n = 0; n < m.dMlp(); n++) all.add(lookup.index().neuron(l, n));
            }
            h = new Held(fp, lookup, page, all);
            held.put(model, h);
            return h;
        }
    }

    /** Forgets a model's loaded index (after a new one was built). */
    public void reload(String model) { held.remove(model); }

    /** Whether a model has an index of its current weights, and if not why and how to build one. */
    public ObjectNode status(String model) {
        Held h = held(model);
        ObjectNode o = JSON.createObjectNode();
        o.put("model", model);
        o.put("indexed", h.lookup().found());
        if (h.lookup().found()) {
            NeuronIndex.Meta m = h.lookup().index().meta();
            o.put("file", h.lookup().file().getFileName().toString());
            o.put("corpus", m.corpus());
            o.put("tokens", m.tokens());
            o.put("layers", m.layers());
            o.put("dMlp", m.dMlp());
        } else {
            o.put("problem", h.lookup().problem());
            o.put("build", "POST /api/v1/models/" + model + "/neurons/index, or: ./loupe neurons index " + model);
        }
        return o;
    }

    /** The page of an index, or a 404 saying how to build one. */
    NeuronPage page(String model) {
        Held h = held(model);
        if (!h.lookup().found())
            throw ApiException.notFound(h.lookup().problem() + "; build it: POST /api/v1/models/" + model + "/neurons/index, or ./loupe neurons index " + model);
        return h.page();
    }

    public boolean indexed(String model) { return held(model).lookup().found(); }

    private static void checkNeuron(NeuronIndex.Meta m, int layer, int n) {
        if (layer < 0 || layer >= m.layers()) throw ApiException.badRequest("layer " + layer + " is out of range [0, " + m.layers() + ")");
        if (n < 0 || n >= m.dMlp()) throw ApiException.notFound("neuron " + n + " is out of range [0, " + m.dMlp() + ") in layer " + layer);
    }

    /** A neuron's page (DESIGN §9) as JSON. */
    public ObjectNode neuron(String model, int layer, int n) {
        NeuronPage p = page(model);
        checkNeuron(p.index().meta(), layer, n);
        return p.json(layer, n);
    }

    /** The layer's table: one row per neuron with what the browser sorts and filters by. */
    public ObjectNode layer(String model, int layer) {
        NeuronPage p = page(model);
        NeuronIndex.Meta m = p.index().meta();
        checkNeuron(m, layer, 0);
        ObjectNode o = status(model);
        o.put("layer", layer);
        ArrayNode rows = o.putArray("neurons");
        for (int n = 0; n < m.dMlp(); n++) row(rows.addObject(), p, held(model).all().get(layer * m.dMlp() + n));
        return o;
    }

    private static void row(ObjectNode r, NeuronPage p, NeuronIndex.Neuron x) {
        r.put("layer", x.layer());
        r.put("index", x.index());
        r.put("max", x.max());
        r.put("density", x.density());
        r.put("kurtosis", x.kurtosis());
        r.put("vocabKurtosis", x.vocabKurtosis());
        r.put("vocabSkew", x.vocabSkew());
        r.put("class", x.neuronClass());
        r.put("label", p.label(x));
        if (Float.isNaN(x.score())) r.putNull("score");
        else r.put("score", x.score());
    }

    /** A token of the model's vocabulary from user input: {@code #id} or text that is exactly one token. */
    public int token(String model, String text) {
        Tokenizer t = engines.get(model).model().tokenizer();
        if (text == null || text.isEmpty()) throw ApiException.badRequest("no token given");
        if (text.matches("#\\d+")) {
            int id = Integer.parseInt(text.substring(1));
            if (id >= t.vocabSize()) throw ApiException.badRequest("token id " + id + " is outside the vocabulary [0, " + t.vocabSize() + ")");
            return id;
        }
        int[] ids;
        try {
            ids = t.encode(text.replace('·', ' '), false);
        } catch (RuntimeException e) {
            throw ApiException.badRequest(e.getMessage());
        }
        if (ids.length != 1)
            throw ApiException.badRequest("'" + text + "' is " + ids.length + " tokens; give one token (a leading space matters: \" an\"), or #id");
        return ids[0];
    }

    /**
     * Search: {@code fires} (neurons whose mean activation on the token is highest, from the per-token means),
     * {@code predicts} (neurons whose direct logit effect on the token is largest, from the weights), {@code label}
     * (labels containing the text, best score first).
     */
    public ObjectNode search(String model, String kind, String query) {
        NeuronPage p = page(model);
        List<NeuronIndex.Neuron> all = held(model).all();
        List<double[]> hits = new ArrayList<>(); // {g, value}
        int dMlp = p.index().meta().dMlp();
        switch (kind == null ? "" : kind) {
            case "fires" -> {
                int tok = token(model, query);
                for (NeuronIndex.Neuron x : all)
                    for (NeuronIndex.Mean m : x.tokens()) if (m.id() == tok) hits.add(new double[]{x.layer() * dMlp + x.index(), m.mean()});
            }
            case "predicts" -> {
                int tok = token(model, query);
                float[] e = WeightStats.effectsOnToken(engines.get(model).model().weights(), tok);
                for (int g = 0; g < e.length; g++) hits.add(new double[]{g, e[g]});
            }
            case "label" -> {
                if (query == null || query.isBlank()) throw ApiException.badRequest("no label text given");
                String q = query.toLowerCase(Locale.ROOT);
                for (NeuronIndex.Neuron x : all)
                    if (p.label(x).toLowerCase(Locale.ROOT).contains(q))
                        hits.add(new double[]{x.layer() * dMlp + x.index(), Float.isNaN(x.score()) ? -2 : x.score()});
            }
            default -> throw ApiException.badRequest("unknown search '" + kind + "'; use fires, predicts or label");
        }
        hits.sort(Comparator.comparingDouble((double[] h) -> -h[1]).thenComparingDouble(h -> h[0]));
        ObjectNode o = JSON.createObjectNode();
        o.put("model", model);
        o.put("search", kind);
        o.put("query", query);
        o.put("matches", hits.size());
        ArrayNode rows = o.putArray("neurons");
        for (double[] h : hits.subList(0, Math.min(SEARCH_RESULTS, hits.size()))) {
            ObjectNode r = rows.addObject();
            row(r, p, all.get((int) h[0]));
            r.put("value", (float) h[1]);
        }
        return o;
    }

    /** The neuron's activation at every token of a text (BOS prepended when the index was built with BOS). */
    public ObjectNode test(String client, String model, int layer, int n, String text) {
        NeuronPage p = page(model);
        NeuronIndex.Meta m = p.index().meta();
        checkNeuron(m, layer, n);
        if (text == null || text.isBlank()) throw ApiException.badRequest("no text given");
        var loaded = engines.get(model);
        Tokenizer t = loaded.model().tokenizer();
        int[] ids;
        try {
            ids = t.encode(text, m.bos());
        } catch (RuntimeException e) {
            throw ApiException.badRequest(e.getMessage());
        }
        GptConfig c = loaded.model().config();
        if (ids.length > c.nCtx()) throw ApiException.badRequest("the text is " + ids.length + " tokens; the model's context is " + c.nCtx());
        if (ids.length == 0) throw ApiException.badRequest("the text has no tokens");
        float[] acts = activations(client, model, layer, n, ids);
        return tokensWithActs(p, ids, acts, m.bos() ? 1 : 0);
    }

    /** A stored example's whole window, its activations computed again by the engine. */
    public ObjectNode window(String client, String model, int layer, int n, int window) {
        NeuronPage p = page(model);
        checkNeuron(p.index().meta(), layer, n);
        if (window < 0 || window >= p.index().windows()) throw ApiException.notFound("window " + window + " is out of range [0, " + p.index().windows() + ")");
        int[] ids = p.index().windowTokens(window);
        ObjectNode o = tokensWithActs(p, ids, activations(client, model, layer, n, ids), p.index().meta().bos() ? 1 : 0);
        o.put("window", window);
        return o;
    }

    private float[] activations(String client, String model, int layer, int n, int[] ids) {
        var subject = engines.get(model).subject();
        String hook = HookPoints.name(layer, "mlp.hook_post");
        return scheduler.run(client, null, Explorer.forwardBytes(engines.get(model).model().config(), 1, ids.length, 0), () -> {
            try (RunResult r = subject.engine().run(RunRequest.of(ids).cache(h -> h.equals(hook)).stopAfter(layer).withoutLogits())) {
                float[] a = new float[ids.length];
                var t = r.get(hook);
                for (int i = 0; i < ids.length; i++) a[i] = t.get(0, i, n);
                return a;
            }
        });
    }

    private static ObjectNode tokensWithActs(NeuronPage p, int[] ids, float[] acts, int firstCounted) {
        ObjectNode o = JSON.createObjectNode();
        ArrayNode tk = o.putArray("tokens"), tx = o.putArray("text"), ac = o.putArray("acts");
        int argmax = -1;
        for (int i = 0; i < ids.length; i++) {
            tk.add(ids[i]);
            tx.add(p.token(ids[i]));
            ac.add(acts[i]);
            if (i >= firstCounted && (argmax < 0 || acts[i] > acts[argmax])) argmax = i;
        }
        o.put("firstCounted", firstCounted);
        if (argmax >= 0) {
            o.put("maxPosition", argmax);
            o.put("max", acts[argmax]);
        }
        return o;
    }
}
