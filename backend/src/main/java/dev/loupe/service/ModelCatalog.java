package dev.loupe.service;

import dev.loupe.model.GptConfig;
import dev.loupe.model.ModelFolder;
import dev.loupe.model.ModelFolderException;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The models found in the models directory. A folder that cannot be used is listed as unavailable with
 * its reason instead of stopping the server.
 */
@ApplicationScoped
public class ModelCatalog {
    private static final Logger LOG = Logger.getLogger(ModelCatalog.class);

    /** One entry of the catalog: either a usable folder or the reason it is not. */
    public record Entry(String name, Path dir, ModelFolder folder, String problem) {
        public boolean available() { return folder != null; }
        public Optional<GptConfig> config() { return Optional.ofNullable(folder).map(ModelFolder::config); }
    }

    private final Path modelsDir;
    private volatile List<Entry> entries;

    public ModelCatalog(@ConfigProperty(name = "loupe.models-dir", defaultValue = "onnx-models") String modelsDir) {
        this.modelsDir = Path.of(modelsDir).toAbsolutePath().normalize();
    }

    public Path modelsDir() { return modelsDir; }

    public List<Entry> entries() {
        List<Entry> e = entries;
        if (e == null) e = rescan();
        return e;
    }

    public Optional<Entry> find(String name) {
        return entries().stream().filter(e -> e.name().equals(name)).findFirst();
    }

    /** Reads the models directory again (e.g. after an import). */
    public synchronized List<Entry> rescan() {
        List<Entry> found = new ArrayList<>();
        if (!Files.isDirectory(modelsDir)) {
            LOG.warnf("models directory %s does not exist; no models listed", modelsDir);
        } else {
            try (Stream<Path> dirs = Files.list(modelsDir)) {
                for (Path dir : dirs.filter(Files::isDirectory).sorted(Comparator.comparing(Path::toString)).toList()) {
                    found.add(open(dir));
                }
            } catch (IOException e) {
                LOG.errorf("cannot list models directory %s: %s", modelsDir, e.getMessage());
            }
        }
        entries = List.copyOf(found);
        return entries;
    }

    private static Entry open(Path dir) {
        try {
            ModelFolder folder = ModelFolder.open(dir);
            return new Entry(folder.name(), dir, folder, null);
        } catch (ModelFolderException e) {
            LOG.warnf("model folder %s is unavailable: %s", dir.getFileName(), e.getMessage());
            return new Entry(dir.getFileName().toString(), dir, null, e.getMessage());
        } catch (RuntimeException e) {
            return new Entry(dir.getFileName().toString(), dir, null, "unreadable: " + e.getMessage());
        }
    }
}
