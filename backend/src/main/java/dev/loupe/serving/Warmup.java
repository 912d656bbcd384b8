package dev.loupe.serving;

import dev.loupe.service.Explorer;
import dev.loupe.service.ModelEngines;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.jboss.logging.Logger;

import java.util.Optional;

/**
 * Loads the default model in the background after start-up, so the first visitor does not wait for it and
 * {@code /q/health/ready} can say when the server is ready to answer ({@link ReadinessCheck}).
 */
@ApplicationScoped
public class Warmup {
    private static final Logger LOG = Logger.getLogger(Warmup.class);

    /** Where loading the default model stands. */
    public enum State { LOADING, LOADED, NO_MODEL, FAILED }

    /** The state, the model's name (null when there is none) and, when it failed, why. */
    public record Status(State state, String model, String problem) {}

    private final Explorer explorer;
    private final ModelEngines engines;
    private volatile Status status = new Status(State.LOADING, null, null);

    public Warmup(Explorer explorer, ModelEngines engines) {
        this.explorer = explorer;
        this.engines = engines;
    }

    void onStart(@Observes StartupEvent e) {
        Thread t = new Thread(this::load, "loupe-warmup");
        t.setDaemon(true);
        t.start();
    }

    public Status status() { return status; }

    /** Loads the default model (idempotent: a loaded model is kept by {@link ModelEngines}). */
    public Status load() {
        Optional<String> model = Optional.empty();
        try {
            model = explorer.defaultModel();
            if (model.isEmpty()) {
                status = new Status(State.NO_MODEL, null, "no usable model in the models directory");
            } else {
                status = new Status(State.LOADING, model.get(), null);
                engines.get(model.get());
                status = new Status(State.LOADED, model.get(), null);
            }
        } catch (RuntimeException ex) {
            String why = ex.getMessage() == null ? ex.getClass().getSimpleName() : ex.getMessage();
            LOG.errorf("the default model %s could not be loaded: %s", model.orElse("?"), why);
            status = new Status(State.FAILED, model.orElse(null), why);
        }
        return status;
    }
}
