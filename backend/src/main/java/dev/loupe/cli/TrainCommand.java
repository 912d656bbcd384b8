package dev.loupe.cli;

import dev.loupe.train.Recipe;
import dev.loupe.train.Task;
import dev.loupe.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code train RECIPE [--out NAME] [--resume]}: trains a model from a recipe and writes it to {@code onnx-models/NAME}. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Train a GPT-2-family model from a recipe (JSON, e.g. tools/recipes/*.json).",
                "Checkpoints go to data/train/NAME (resumable after a kill with --resume); the finished model, its manifest, "
                        + "recipe and card go to onnx-models/NAME."})
public final class TrainCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "RECIPE", description = "recipe file (JSON)")
    Path recipeFile;

    @Option(names = "--out", paramLabel = "NAME", description = "model name (default: the recipe's name)")
    String out;

    @Option(names = "--resume", description = "continue from the last checkpoint in data/train/NAME")
    boolean resume;

    @Option(names = "--models", paramLabel = "DIR", description = "models folder (default: ${DEFAULT-VALUE})")
    Path models = Path.of("onnx-models");

    @Option(names = "--work", paramLabel = "DIR", description = "checkpoints and logs folder (default: data/train/NAME)")
    Path work;

    @Option(names = "--threads", description = "ONNX Runtime threads (default: all cores)")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--steps", description = "override the recipe's step count (for quick trials)")
    Integer steps;

    @Override
    public Integer call() throws Exception {
        dev.loupe.runtime.OrtRuntime.keepCpuArenaUnlessConfigured();
        Recipe recipe = Recipe.read(recipeFile);
        if (steps != null) {
            recipe.json().put("steps", steps);
            recipe = Recipe.of(recipe.json(), recipe.name());
        }
        String name = out != null ? out : recipe.name();
        Path workDir = work != null ? work : Path.of("data", "train", name);
        Task task = Task.create(recipe, Path.of("."));
        Trainer trainer = new Trainer(recipe, task, new Trainer.Options(workDir, models.resolve(name), resume, threads, System.out));
        // Ctrl-C / SIGTERM: let the step under way finish and checkpoint, then exit. Caught as signals rather than in a
        // shutdown hook, because ONNX Runtime's own shutdown hook releases its environment while a step may still run.
        StopSignals signals = StopSignals.install(trainer::requestStop);
        Trainer.Summary s;
        try {
            s = trainer.run();
        } finally {
            signals.restore();
        }
        if (!s.complete()) return 128 + signals.received(); // the shell's convention for "ended by signal N"
        System.out.printf(Locale.ROOT, "trained %s: %d steps, %,d tokens in %.0f s (%.0f tok/s); %s -> %s%n", name, s.steps(), s.tokens(),
                s.seconds(), s.tokensPerSecond(), s.finalEval(), models.resolve(name));
        return 0;
    }

}
