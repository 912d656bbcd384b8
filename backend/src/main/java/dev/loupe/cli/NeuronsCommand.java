package dev.loupe.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.jobs.Progress;
import dev.loupe.model.LoadedModel;
import dev.loupe.model.ModelFolder;
import dev.loupe.neurons.CorpusSources;
import dev.loupe.neurons.IndexCorpus;
import dev.loupe.neurons.IndexFiles;
import dev.loupe.neurons.NeuronIndex;
import dev.loupe.neurons.NeuronIndexer;
import dev.loupe.neurons.NeuronPage;
import dev.loupe.neurons.WeightsHash;
import dev.loupe.runtime.Engine;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code neurons index | show}: build a model's neuron index, and write one neuron's page as JSON. */
@Command(name = "neurons", mixinStandardHelpOptions = true, description = "Neuron index: build it, show a neuron.",
        subcommands = {NeuronsCommand.Index.class, NeuronsCommand.Show.class})
public final class NeuronsCommand implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public void run() { spec.commandLine().usage(System.out); }

    /** The data directory: {@code --data}, else {@code $LOUPE_DATA}, else {@code data}. */
    static final class DataDir {
        @Option(names = "--data", paramLabel = "DIR", description = "data directory (default: $LOUPE_DATA or data)")
        Path dir;

        Path resolve() {
            if (dir != null) return dir;
            String env = System.getenv("LOUPE_DATA");
            return Path.of(env != null && !env.isBlank() ? env : "data");
        }
    }

    static ModelFolder folder(ModelsDir models, String name) throws Exception {
        Path dir = models.resolve().resolve(name);
        if (!java.nio.file.Files.isDirectory(dir)) throw new IllegalArgumentException("no model '" + name + "' in " + models.resolve());
        return ModelFolder.open(dir);
    }

    @Command(name = "index", mixinStandardHelpOptions = true,
            description = "Run a corpus through the model (stopping after the last MLP) and store every neuron's examples and statistics. "
                    + "Resumable: run the same command again after an interruption.")
    static final class Index implements Callable<Integer> {
        @Parameters(index = "0", description = "model name (a folder of the models directory)") String model;
        @Option(names = "--corpus", description = "brown-heldout (default), brown, kjv or fortunes") String corpus = "brown-heldout";
        @Option(names = "--text", paramLabel = "FILE", description = "a text file, one document per line") Path text;
        @Option(names = "--token-file", paramLabel = "FILE", description = "one document per line: token ids separated by commas") Path tokenFile;
        @Option(names = "--no-bos", description = "do not prepend BOS to each window") boolean noBos;
        @Option(names = "--top", description = "top examples per neuron (default: ${DEFAULT-VALUE})") int top = 20;
        @Option(names = "--out", paramLabel = "FILE", description = "index file (default: DATA/neurons/MODEL.idx; .gz compresses)") Path out;
        @Option(names = "--checkpoint-seconds", description = "seconds between checkpoints (default: ${DEFAULT-VALUE})") double checkpointSeconds = 15;
        @Mixin ModelsDir models;
        @Mixin DataDir data;

        @Override
        public Integer call() throws Exception {
            if (text != null && tokenFile != null) throw new IllegalArgumentException("give --text or --token-file, not both");
            if (top < 1 || top > 200) throw new IllegalArgumentException("--top must be in [1, 200]");
            ModelFolder folder = folder(models, model);
            LoadedModel m = folder.load();
            IndexCorpus c = text != null ? CorpusSources.textFile(text, m.tokenizer())
                    : tokenFile != null ? CorpusSources.tokenFile(tokenFile)
                    : CorpusSources.named(corpus, data.resolve().resolve("corpora"));
            String sha = WeightsHash.sha256(folder.weightsFile());
            Path target = out != null ? out : IndexFiles.built(data.resolve(), folder.name());
            Path checkpoint = target.resolveSibling(target.getFileName() + ".checkpoint");
            NeuronIndexer.Options o = NeuronIndexer.Options.defaults().withTop(top).withBos(!noBos).withCheckpointSeconds(checkpointSeconds);
            long t0 = System.nanoTime();
            try (Engine engine = Engine.create(m.weights())) {
                NeuronIndexer indexer = new NeuronIndexer(engine, m.weights(), folder.name(), sha, m.tokenizer().bosId(), c, o);
                NeuronIndex idx;
                java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
                StopSignals signals = StopSignals.install(() -> stop.set(true));
                try {
                    idx = indexer.run(target, checkpoint, new ConsoleProgress(stop));
                } catch (dev.loupe.jobs.Cancelled e) {
                    System.out.println();
                    System.err.println("stopped; progress is saved in " + checkpoint + ": run the same command again to continue");
                    return 128 + signals.received();
                } finally {
                    signals.restore();
                }
                double s = (System.nanoTime() - t0) / 1e9;
                System.out.printf(Locale.ROOT, "%nindexed %s on %s: %d tokens in %d documents, %d neurons, %.1f s (%.0f tokens/s per pass); %s (%.2f MB, %d bytes per neuron)%n",
                        folder.name(), c.name(), idx.meta().tokens(), idx.meta().documents(), idx.meta().neurons(), s,
                        2 * idx.meta().tokens() / s, target, java.nio.file.Files.size(target) / 1e6,
                        java.nio.file.Files.size(target) / idx.meta().neurons());
            }
            return 0;
        }
    }

    /** Prints progress on one line, at most a few times a second; stops when a stop signal arrived. */
    static final class ConsoleProgress implements Progress {
        private final java.util.concurrent.atomic.AtomicBoolean stop;
        private long last;

        ConsoleProgress(java.util.concurrent.atomic.AtomicBoolean stop) { this.stop = stop; }

        @Override public void report(double fraction, String message) {
            long now = System.nanoTime();
            if (now - last < 250_000_000L && fraction < 1) return;
            last = now;
            System.out.printf(Locale.ROOT, "\r%5.1f%%  %-60s", 100 * fraction, message);
            System.out.flush();
        }

        @Override public boolean cancelled() { return stop.get(); }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Write one neuron's page (the REST API's JSON) to a file.")
    static final class Show implements Callable<Integer> {
        @Parameters(index = "0", description = "model name") String model;
        @Parameters(index = "1", description = "layer") int layer;
        @Parameters(index = "2", description = "neuron index in the layer") int index;
        @Option(names = "--out", paramLabel = "FILE.json", required = true, description = "output file") Path out;
        @Mixin ModelsDir models;
        @Mixin DataDir data;

        @Override
        public Integer call() throws Exception {
            ModelFolder folder = folder(models, model);
            IndexFiles.Lookup found = IndexFiles.load(data.resolve(), folder, WeightsHash.sha256(folder.weightsFile()));
            if (!found.found()) throw new IllegalArgumentException(found.problem() + "; run: ./loupe neurons index " + model);
            NeuronIndex idx = found.index();
            try {
                idx.neuron(layer, index);
            } catch (IndexOutOfBoundsException e) {
                throw new IllegalArgumentException(e.getMessage());
            }
            var page = new NeuronPage(idx, folder.load().tokenizer()).json(layer, index);
            new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(out.toFile(), page);
            System.out.println("wrote " + out + ": " + page.get("label").get("text").asText());
            return 0;
        }
    }
}
