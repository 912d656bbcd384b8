package dev.loupe.cli;

import ai.onnxruntime.OnnxTensor;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.grad.Backprop;
import dev.loupe.grad.GradGraph;
import dev.loupe.grad.Metric;
import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.train.AdamW;
import dev.loupe.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * {@code bench train}: trains the same small configuration with Loupe (fused forward+backward ONNX graph, AdamW
 * in Java) and with the PyTorch eager anchor {@code tools/reference/bench_train.py}, and reports the ratio of
 * tokens per second. Both sides: GPT-2 initialisation, a fresh uniform random batch per step, AdamW lr 1e-3,
 * betas (0.9, 0.95), eps 1e-8, weight decay 0.1 on matrices and embeddings, gradient norm clipped at 1.0, the
 * mean next-token loss; the first min(2, steps − 1) steps are untimed warm-up.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Training throughput of Loupe against an equivalent PyTorch eager loop; ends with 'train-bench: speedup_vs_torch=X.XX'.")
public final class TrainBench implements Callable<Integer> {
    static final String DEFAULT_CONFIG = "{\"n_layer\":2,\"n_head\":4,\"n_embd\":128,\"n_positions\":256,\"vocab_size\":50257}";

    @Option(names = "--config", description = "model config, JSON text or file (HF names; default: ${DEFAULT-VALUE})")
    String config = DEFAULT_CONFIG;
    @Option(names = "--batch", description = "rows per step (default: ${DEFAULT-VALUE})")
    int batch = 8;
    @Option(names = "--seq", description = "tokens per row (default: ${DEFAULT-VALUE})")
    int seq = 128;
    @Option(names = "--steps", description = "steps, warm-up included (default: ${DEFAULT-VALUE})")
    int steps = 20;
    @Option(names = "--seed", description = "seed (default: ${DEFAULT-VALUE})")
    long seed = 0;
    @Option(names = "--threads", description = "threads for both sides (default: ${DEFAULT-VALUE})")
    int threads = 2;
    @Option(names = "--python", description = "Python with PyTorch (default: ${DEFAULT-VALUE})")
    String python = "/usr/bin/python3";
    @Option(names = "--script", description = "PyTorch anchor (default: ${DEFAULT-VALUE})")
    Path script = Path.of("tools", "reference", "bench_train.py");
    @Option(names = "--skip-torch", description = "only measure Loupe")
    boolean skipTorch;

    public record Measurement(double tokensPerSecond, double secondsPerStep, double initialLoss, double finalLoss) {}

    /** Loupe's side of the benchmark. */
    public static Measurement loupe(GptConfig c, int batch, int seq, int steps, long seed, int threads) throws Exception {
        GptWeights init = GptWeights.random(c, seed, false);
        Map<String, int[]> shapes = GptWeights.expectedShapes(c);
        List<AdamW.Param> params = new ArrayList<>();
        for (var e : init.tensors().entrySet())
            params.add(new AdamW.Param(e.getKey(), e.getValue().data(), e.getKey().endsWith(".weight") && !e.getKey().contains("ln_")));
        AdamW opt = new AdamW(params, 0.9, 0.95, 1e-8, 0.1);
        SplittableRandom rnd = new SplittableRandom(seed);
        int warm = Math.min(2, steps - 1);
        double first = Double.NaN, last = Double.NaN;
        long t0 = 0;
        try (Backprop bp = new Backprop(c, threads)) {
            Map<String, FloatBuffer> direct = new LinkedHashMap<>();
            Map<String, OnnxTensor> feeds = Trainer.weightFeeds(bp, params, shapes, direct);
            GradGraph.Spec spec = GradGraph.Spec.training();
            for (int s = 0; s < steps; s++) {
                if (s == warm) t0 = System.nanoTime();
                int[] tokens = new int[batch * seq];
                for (int i = 0; i < tokens.length; i++) tokens[i] = rnd.nextInt(c.dVocab());
                Backprop.Result r = bp.run(spec, feeds, tokens, Metric.loss().ports(tokens, batch, seq, c.dVocab()));
                for (AdamW.Param p : params) p.g = r.get(GradGraph.weightGrad(p.name)).data();
                opt.step(s + 1, 1e-3, 1.0);
                for (AdamW.Param p : params) direct.get(p.name).clear().put(p.w).rewind();
                if (s == 0) first = r.metric();
                last = r.metric();
            }
            double secs = (System.nanoTime() - t0) / 1e9, per = secs / (steps - warm);
            for (OnnxTensor t : feeds.values()) t.close();
            return new Measurement((double) batch * seq / per, per, first, last);
        }
    }

    @Override
    public Integer call() throws Exception {
        dev.loupe.runtime.OrtRuntime.keepCpuArenaUnlessConfigured();
        String text = config.trim().startsWith("{") ? config : Files.readString(Path.of(config));
        JsonNode cfg = new ObjectMapper().readTree(text);
        GptConfig c = GptConfig.fromJson(cfg);
        System.out.printf(Locale.ROOT, "train-bench: config %s, batch %d × seq %d, %d steps (%d warm-up), %d threads%n",
                cfg, batch, seq, steps, Math.min(2, steps - 1), threads);
        Measurement m = loupe(c, batch, seq, steps, seed, threads);
        System.out.printf(Locale.ROOT, "train-bench: loupe %.0f tokens/s (%.3f s/step), loss %.4f -> %.4f%n",
                m.tokensPerSecond(), m.secondsPerStep(), m.initialLoss(), m.finalLoss());
        if (skipTorch) return 0;
        List<String> cmd = List.of(python, script.toString(), "--config", cfg.toString(), "--batch", Integer.toString(batch),
                "--seq", Integer.toString(seq), "--steps", Integer.toString(steps), "--seed", Long.toString(seed), "--threads", Integer.toString(threads));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String json = null;
        StringBuilder all = new StringBuilder();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                all.append(line).append('\n');
                if (line.trim().startsWith("{")) json = line.trim();
            }
        }
        if (p.waitFor() != 0 || json == null) {
            System.err.println("train-bench: the PyTorch anchor failed:\n" + all);
            return 1;
        }
        JsonNode t = new ObjectMapper().readTree(json);
        double torchTps = t.get("tokens_per_s").asDouble();
        System.out.printf(Locale.ROOT, "train-bench: torch %.0f tokens/s (%.3f s/step), loss %.4f -> %.4f (torch %s, %s threads)%n",
                torchTps, t.path("seconds_per_step").asDouble(), t.path("initial_loss").asDouble(), t.path("final_loss").asDouble(),
                t.path("torch").asText(), t.path("threads").asText());
        System.out.printf(Locale.ROOT, "train-bench: speedup_vs_torch=%.2f%n", m.tokensPerSecond() / torchTps);
        return 0;
    }

}
