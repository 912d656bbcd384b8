package dev.loupe.cli;

import ai.onnxruntime.OnnxTensor;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.grad.Backprop;
import dev.loupe.jobs.Progress;
import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.patching.ActivationPatching;
import dev.loupe.patching.PatchMetric;
import dev.loupe.patching.PatchMode;
import dev.loupe.patching.PromptPair;
import dev.loupe.patching.Sweep;
import dev.loupe.runtime.Engine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/**
 * Patching sweeps of Loupe against TransformerLens's loop (one hooked PyTorch forward pass per index,
 * tools/reference/patching_reference.py) on the same random GPT-2-small weights and 20-token pair, denoising
 * with a logit difference. PyTorch is timed on an evenly spaced subset of the indices and scaled to all of them.
 */
@Command(name = "patching", description = "Loupe vs a PyTorch hook loop: resid_pre and head_out_by_pos sweeps, GPT-2 small shape, 20 tokens.")
final class PatchingBench implements Callable<Integer> {
    @Option(names = "--tokens", defaultValue = "20", description = "prompt length (default ${DEFAULT-VALUE})") int len;
    @Option(names = "--torch-indices", defaultValue = "60", description = "indices PyTorch is timed on, per sweep (default ${DEFAULT-VALUE})") int torchIndices;
    @Option(names = "--reference", defaultValue = "tools/reference/patching_reference.py") Path reference;
    @Option(names = "--python", defaultValue = "/usr/bin/python3") String python;
    @Option(names = "--sweeps", defaultValue = "resid_pre,head_out_by_pos", split = ",") List<String> sweeps;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(reference)) throw new CliException("PyTorch reference script not found: " + reference);
        GptConfig config = GptConfig.small();
        int threads = Runtime.getRuntime().availableProcessors();
        GptWeights weights = GptWeights.random(config, 0, false);
        Random rnd = new Random(1);
        int[] clean = new int[len], corrupt;
        clean[0] = config.dVocab() - 1;
        for (int i = 1; i < len; i++) clean[i] = rnd.nextInt(config.dVocab());
        corrupt = clean.clone();
        corrupt[len / 3] = rnd.nextInt(config.dVocab());
        corrupt[2 * len / 3] = rnd.nextInt(config.dVocab());
        PromptPair pair = new PromptPair(clean, corrupt);
        String metric = "logit_diff:-1:11:42";
        System.out.println("GPT-2 small shape (" + config.nLayers() + " layers, " + config.nHeads() + " heads, d_model " + config.dModel()
                + "), random weights, a " + len + "-token pair differing at 2 positions, denoising " + metric + "; " + threads + " threads each");
        Path file = Files.createTempFile("loupe-patching-bench-", ".safetensors");
        double product = 1;
        System.out.printf("%-16s %8s %10s %12s %9s %12s%n", "sweep", "indices", "loupe s", "torch s", "speedup", "attribution s");
        try (Engine engine = Engine.create(weights); Backprop bp = new Backprop(config, threads)) {
            weights.save(file, Map.of("config", config.toJson().toString()));
            Map<String, OnnxTensor> feeds = bp.weightFeeds(weights);
            try {
                for (String name : sweeps) {
                    Sweep sweep = Sweep.parse(name, config);
                    ActivationPatching run = ActivationPatching.prepare(engine, List.of(pair), PatchMetric.parse(metric), sweep, PatchMode.DENOISE);
                    run.sweep(0, Progress.NONE); // compiles the graph variants once
                    long t0 = System.nanoTime();
                    run.sweep(0, Progress.NONE);
                    double loupe = (System.nanoTime() - t0) / 1e9;
                    run.attribution(bp, feeds);
                    t0 = System.nanoTime();
                    run.attribution(bp, feeds);
                    double attribution = (System.nanoTime() - t0) / 1e9;
                    JsonNode torch = torch(file, clean, corrupt, name, metric, threads);
                    double torchSeconds = torch.get("seconds_scaled").asDouble();
                    product *= torchSeconds / loupe;
                    System.out.printf("%-16s %8d %10.2f %12.2f %8.2fx %12.2f   (PyTorch: %d of %d indices timed in %.1f s, scaled)%n", name, run.rows(), loupe,
                            torchSeconds, torchSeconds / loupe, attribution, torch.get("timed_indices").asInt(), torch.get("indices").asInt(),
                            torch.get("seconds_timed").asDouble());
                }
            } finally {
                feeds.values().forEach(OnnxTensor::close);
            }
        } finally {
            Files.deleteIfExists(file);
        }
        System.out.printf("patching-bench: speedup_vs_torch=%.2f%n", Math.pow(product, 1.0 / sweeps.size()));
        return 0;
    }

    private JsonNode torch(Path weights, int[] clean, int[] corrupt, String sweep, String metric, int threads) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(python, reference.toString(), "bench", "--weights", weights.toString(),
                "--clean", join(clean), "--corrupt", join(corrupt), "--sweep", sweep, "--metric", metric,
                "--max-indices", "" + torchIndices, "--threads", "" + threads));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) throw new CliException("PyTorch reference failed: " + output.strip());
        String[] lines = output.strip().split("\n");
        JsonNode json = new ObjectMapper().readTree(lines[lines.length - 1]);
        if (!json.has("seconds_scaled")) throw new CliException("PyTorch reference printed no timing: " + output.strip());
        return json;
    }

    private static String join(int[] ids) { return Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(",")); }
}
