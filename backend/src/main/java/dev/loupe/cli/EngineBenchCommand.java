package dev.loupe.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.runtime.Engine;
import dev.loupe.runtime.EngineOptions;
import dev.loupe.runtime.RunRequest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;

/**
 * Forward-pass throughput of Loupe against PyTorch eager (tools/reference/bench_engine.py) on the same random
 * GPT-2-small weights: with every hook cached and without hooks, at 1×64 and 8×64 tokens. Each engine is timed
 * in several rounds and its best round kept, which filters out interference from other work on the machine.
 */
@Command(name = "engine", description = "Loupe vs PyTorch eager: forward with the full cache and without, GPT-2 small shape.")
final class EngineBenchCommand implements Callable<Integer> {
    @Option(names = "--reps", defaultValue = "5", description = "timed runs per measurement (default ${DEFAULT-VALUE})") int reps;
    @Option(names = "--rounds", defaultValue = "2", description = "rounds per engine; the best is kept (default ${DEFAULT-VALUE})") int rounds;
    @Option(names = "--reference", defaultValue = "tools/reference/bench_engine.py", description = "PyTorch script") Path reference;
    @Mixin TorchReference anchor;
    @Option(names = "--seq", defaultValue = "64") int seq;

    private static final int[] BATCHES = {1, 8};
    private static final String[] MODES = {"cache", "plain"};

    @Override
    public Integer call() throws Exception {
        TorchReference.check(reference);
        GptConfig config = GptConfig.small();
        System.out.println("GPT-2 small shape (" + config.nLayers() + " layers, d_model " + config.dModel() + ", vocab " + config.dVocab()
                + "), random weights; " + reps + " timed runs, best of " + rounds + " rounds; "
                + Runtime.getRuntime().availableProcessors() + " threads per engine");
        GptWeights weights = GptWeights.random(config, 0, false);
        Path file = Files.createTempFile("loupe-bench-", ".safetensors");
        double[][] loupe = filled(), torch = filled(); // [batch index][mode index] seconds per run
        try {
            weights.save(file, Map.of("config", config.toJson().toString()));
            for (int round = 0; round < rounds; round++) {
                try (Engine engine = Engine.create(weights, EngineOptions.defaults())) {
                    for (int b = 0; b < BATCHES.length; b++)
                        for (int m = 0; m < MODES.length; m++)
                            loupe[b][m] = Math.min(loupe[b][m], timeLoupe(engine, config, BATCHES[b], MODES[m]));
                }
                for (int b = 0; b < BATCHES.length; b++)
                    for (int m = 0; m < MODES.length; m++)
                        torch[b][m] = Math.min(torch[b][m], timeTorch(file, BATCHES[b], MODES[m]));
            }
        } finally {
            Files.deleteIfExists(file);
        }
        System.out.printf("%-8s %-6s %14s %14s %9s%n", "tokens", "mode", "loupe tok/s", "torch tok/s", "speedup");
        for (int b = 0; b < BATCHES.length; b++)
            for (int m = 0; m < MODES.length; m++) {
                double tokens = BATCHES[b] * seq;
                System.out.printf("%-8s %-6s %14.0f %14.0f %8.2fx%n", BATCHES[b] + "x" + seq, MODES[m], tokens / loupe[b][m],
                        tokens / torch[b][m], torch[b][m] / loupe[b][m]);
            }
        int big = BATCHES.length - 1;
        System.out.printf("engine-bench: cache_speedup_vs_torch=%.2f plain_speedup_vs_torch=%.2f hook_overhead=%.2f%n",
                torch[big][0] / loupe[big][0], torch[big][1] / loupe[big][1], loupe[big][0] / loupe[big][1]);
        return 0;
    }

    private static double[][] filled() {
        double[][] a = new double[BATCHES.length][MODES.length];
        for (double[] r : a) java.util.Arrays.fill(r, Double.POSITIVE_INFINITY);
        return a;
    }

    /** Mean seconds per run after two warm-up runs; "cache" copies every hook out, as a run-with-cache does. */
    private double timeLoupe(Engine engine, GptConfig config, int batch, String mode) {
        Random rnd = new Random(0);
        int[][] tokens = new int[batch][seq];
        for (int[] t : tokens) for (int i = 0; i < seq; i++) t[i] = rnd.nextInt(config.dVocab());
        for (int i = 0; i < 2; i++) engine.run(request(tokens, mode)).close();
        long start = System.nanoTime();
        for (int i = 0; i < reps; i++) engine.run(request(tokens, mode)).close();
        return (System.nanoTime() - start) / 1e9 / reps;
    }

    private static RunRequest request(int[][] tokens, String mode) {
        RunRequest r = RunRequest.of(tokens);
        return mode.equals("cache") ? r.cacheAll() : r;
    }

    private double timeTorch(Path weights, int batch, String mode) throws IOException, InterruptedException {
        String output = anchor.run(reference, List.of("--weights", weights.toString(), "--batch", "" + batch,
                "--seq", "" + seq, "--reps", "" + reps, "--mode", mode));
        String[] lines = output.strip().split("\n");
        JsonNode json = new ObjectMapper().readTree(lines[lines.length - 1]);
        if (!json.has("seconds_per_run")) throw new CliException("PyTorch reference printed no timing: " + output.strip());
        return json.get("seconds_per_run").asDouble();
    }
}
