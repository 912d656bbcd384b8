package dev.loupe.service;

import dev.loupe.analysis.Subject;
import dev.loupe.api.ApiException;
import dev.loupe.model.LoadedModel;
import dev.loupe.model.ModelFolderException;
import dev.loupe.runtime.Engine;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.ws.rs.core.Response;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.nio.file.Files;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One engine per model, loaded on first use and kept. Loading is thread-safe: concurrent first requests for a
 * model wait for one load. A model whose weights file changed on disk is loaded again.
 */
@ApplicationScoped
public class ModelEngines {
    private static final Logger LOG = Logger.getLogger(ModelEngines.class);

    /** A loaded model: what analyses need plus a fingerprint of its weights for cache keys. */
    public record Loaded(String name, String fingerprint, LoadedModel model, Subject subject) {}

    private final ModelCatalog catalog;
    private final Map<String, Loaded> loaded = new ConcurrentHashMap<>();
    private final Map<String, Object> locks = new ConcurrentHashMap<>();

    public ModelEngines(ModelCatalog catalog) {
        this.catalog = catalog;
    }

    /** The catalog entry of a usable model, or a 404 / 400 naming the problem. */
    public ModelCatalog.Entry entry(String name) {
        if (name == null || name.isBlank()) throw ApiException.badRequest("no model given");
        ModelCatalog.Entry e = catalog.find(name).orElseGet(() -> catalog.rescan().stream()
                .filter(x -> x.name().equals(name)).findFirst().orElse(null));
        if (e == null) throw ApiException.notFound("unknown model '" + name + "'");
        if (!e.available()) throw new ApiException(Response.Status.CONFLICT, "model '" + name + "' is unavailable: " + e.problem());
        return e;
    }

    public Loaded get(String name) {
        ModelCatalog.Entry e = entry(name);
        String fingerprint = fingerprint(e);
        Loaded l = loaded.get(name);
        if (l != null && l.fingerprint().equals(fingerprint)) return l;
        synchronized (locks.computeIfAbsent(name, k -> new Object())) {
            l = loaded.get(name);
            if (l != null && l.fingerprint().equals(fingerprint)) return l;
            long t0 = System.nanoTime();
            LoadedModel m;
            try {
                m = LoadedModel.load(e.folder());
            } catch (ModelFolderException ex) {
                throw new ApiException(Response.Status.CONFLICT, "model '" + name + "' cannot be loaded: " + ex.getMessage());
            }
            Engine engine = Engine.create(m.weights());
            Loaded fresh = new Loaded(name, fingerprint, m, new Subject(engine, m.weights(), m.tokenizer()));
            Loaded old = loaded.put(name, fresh);
            if (old != null) old.subject().engine().close();
            LOG.infof("loaded model %s in %d ms", name, (System.nanoTime() - t0) / 1_000_000);
            return fresh;
        }
    }

    /** Name, weights size and modification time: changes when the model is re-imported. */
    static String fingerprint(ModelCatalog.Entry e) {
        try {
            var f = e.folder().weightsFile();
            return e.name() + "@" + Files.size(f) + "-" + Files.getLastModifiedTime(f).toMillis();
        } catch (IOException ex) {
            return e.name();
        }
    }

    @PreDestroy
    void close() {
        loaded.values().forEach(l -> l.subject().engine().close());
        loaded.clear();
    }
}
