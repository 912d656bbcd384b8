package dev.loupe.serving;

import dev.loupe.jobs.NotAllowed;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The hosted-demo mode ({@code ./loupe run --demo}, the {@code demo} configuration profile): the server is read-only
 * for the web, so work that writes lasting data (building a neuron index) runs only for the models the operator
 * lists in {@code loupe.demo.index-models}. The demo's other limits (prompt length, sweep size, per-client limits)
 * are ordinary settings that the profile lowers (application.properties, {@code %demo.}).
 */
@ApplicationScoped
public class DemoMode {
    private final boolean enabled;
    private final Set<String> writableModels;

    @Inject
    public DemoMode(@ConfigProperty(name = "loupe.demo", defaultValue = "false") boolean enabled,
                    @ConfigProperty(name = "loupe.demo.index-models") Optional<List<String>> writableModels) {
        this.enabled = enabled;
        this.writableModels = Set.copyOf(writableModels.orElse(List.of()).stream().map(String::trim).filter(s -> !s.isEmpty()).toList());
    }

    /** Not a demo: everything allowed. */
    public static DemoMode off() { return new DemoMode(false, Optional.empty()); }

    public boolean enabled() { return enabled; }

    /** Whether work that writes lasting data may run for {@code model}. */
    public boolean writesAllowed(String model) {
        return !enabled || (model != null && writableModels.contains(model));
    }

    /**
     * Refuses, on the demo, work that writes lasting data for a model the operator did not allow.
     *
     * @throws NotAllowed naming the setting that allows it
     */
    public void checkWrite(String what, String model) {
        if (!writesAllowed(model))
            throw new NotAllowed(what + " is turned off on this hosted demo"
                    + (model == null || model.isBlank() ? "" : " for model '" + model + "'")
                    + (writableModels.isEmpty() ? "" : "; it is allowed for " + String.join(", ", writableModels.stream().sorted().toList()))
                    + " (the operator lists such models in loupe.demo.index-models)");
    }
}
