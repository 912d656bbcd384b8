package dev.loupe.neurons;

import dev.loupe.model.ModelFolder;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a model's neuron index lives: built indexes in {@code DATA/neurons/MODEL.idx} (with the checkpoint of a run
 * under way beside it), and an index shipped with the model as {@code neurons.idx.gz} in its folder. A built index
 * wins over a shipped one; either is used only when it belongs to the model's current weights.
 */
public final class IndexFiles {
    public static final String SHIPPED = "neurons.idx.gz";

    private IndexFiles() {
    }

    public static Path built(Path dataDir, String model) { return dataDir.resolve("neurons").resolve(model + ".idx"); }

    public static Path checkpoint(Path dataDir, String model) { return dataDir.resolve("neurons").resolve(model + ".checkpoint"); }

    public static Path shipped(ModelFolder folder) { return folder.dir().resolve(SHIPPED); }

    /** The index files that exist for a model, built first. */
    public static java.util.List<Path> candidates(Path dataDir, ModelFolder folder) {
        java.util.List<Path> out = new java.util.ArrayList<>();
        for (Path p : new Path[]{built(dataDir, folder.name()), shipped(folder)}) if (Files.isRegularFile(p)) out.add(p);
        return out;
    }

    /** What was found for a model: an index of its current weights, or why there is none. */
    public record Lookup(NeuronIndex index, Path file, String problem) {
        public boolean found() { return index != null; }
    }

    /** Loads the first index of the model's current weights ({@code sha256}); a stale one is reported, not used. */
    public static Lookup load(Path dataDir, ModelFolder folder, String sha256) {
        String problem = "no neuron index for model '" + folder.name() + "'";
        for (Path p : candidates(dataDir, folder)) {
            try {
                NeuronIndex idx = NeuronIndex.read(p);
                if (idx.meta().weightsSha256().equals(sha256)) return new Lookup(idx, p, null);
                problem = "the neuron index " + p.getFileName() + " was built for other weights of '" + folder.name()
                        + "' (the weights file changed); build it again";
            } catch (IOException e) {
                problem = e.getMessage();
            }
        }
        return new Lookup(null, null, problem);
    }
}
