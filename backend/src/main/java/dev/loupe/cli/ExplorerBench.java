package dev.loupe.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.model.ModelFolder;
import dev.loupe.model.ModelFolderException;
import dev.loupe.tokenizer.Tokenizer;
import dev.loupe.tokenizer.Tokenizers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.IntFunction;
import java.util.stream.Stream;

/**
 * {@code loupe bench explorer}: the REST time of every explorer view for a 30-token prompt on the default model,
 * cold (first request for that input, model already loaded) and cached (the same request again), over HTTP
 * against the packaged app (started here with a fresh data folder) or a running one ({@code --url}).
 * Goals: under 1 s cold and under 50 ms cached.
 */
@Command(name = "explorer", mixinStandardHelpOptions = true,
        description = "REST time of each explorer view for a 30-token prompt on the default model, cold and cached.")
public final class ExplorerBench implements Callable<Integer> {
    static final double COLD_GOAL_MS = 1000, CACHED_GOAL_MS = 50;

    @Option(names = "--url", paramLabel = "URL", description = "a running Loupe (default: start the packaged app)")
    String url;
    @Option(names = "--app", paramLabel = "JAR", defaultValue = "frontend/target/quarkus-app/quarkus-run.jar",
            description = "the packaged app to start (default ${DEFAULT-VALUE})")
    Path app;
    @Option(names = "--models-dir", paramLabel = "DIR", description = "models directory (default: $LOUPE_MODELS or onnx-models)")
    Path modelsDir;
    @Option(names = "--model", description = "model to measure (default: loupe.default-model / $LOUPE_DEFAULT_MODEL, else the first usable)")
    String model;
    @Option(names = "--random-model", paramLabel = "SIZE",
            description = "measure a random-weights GPT-2 of this size instead (small, medium, large, xl), written to a temporary folder")
    String randomModel;
    @Option(names = "--tokens", defaultValue = "30", description = "prompt length in tokens, BOS not counted (default ${DEFAULT-VALUE})")
    int tokens;
    @Option(names = "--cold", defaultValue = "3", description = "cold requests per view, each with a new input (default ${DEFAULT-VALUE})")
    int coldRuns;
    @Option(names = "--cached", defaultValue = "20", description = "cached requests per view (default ${DEFAULT-VALUE})")
    int cachedRuns;
    @Option(names = "--heap", defaultValue = "8g", description = "heap of the started app (default ${DEFAULT-VALUE})")
    String heap;

    private static final ObjectMapper JSON = new ObjectMapper();
    private BenchHttp http;

    /** One view: its name and its request for the i-th distinct input (cold runs use i = 1, 2, ...). */
    record View(String name, IntFunction<String> request) {}


    @Override
    public Integer call() throws Exception {
        Path models = modelsDir != null ? modelsDir : Path.of(BenchHttp.envOr("LOUPE_MODELS", "onnx-models"));
        Path work = null;
        Process process = null;
        try {
            if (randomModel != null) {
                work = Files.createTempDirectory("loupe-bench-explorer");
                models = Files.createDirectories(work.resolve("models"));
                model = "random-gpt2-" + randomModel;
                writeRandomModel(models.resolve(model), model, configOf(randomModel));
            }
            String name = model != null ? model : defaultModel(models);
            ModelFolder folder;
            try {
                folder = ModelFolder.open(models.resolve(name));
            } catch (ModelFolderException e) {
                folder = findByName(models, name);
            }
            GptConfig c = folder.config();
            Tokenizer tok = Tokenizers.fromSpec(folder.tokenizerSpec());
            int n = Math.min(tokens, c.nCtx() - (tok.bosId() >= 0 ? 1 : 0));
            if (n < tokens) System.out.printf("note: %s has a context of %d tokens; the prompt has %d tokens%n", name, c.nCtx(), n);

            if (url == null) {
                if (work == null) work = Files.createTempDirectory("loupe-bench-explorer");
                process = startApp(work, models);
            } else {
                http = new BenchHttp(url, Duration.ofMinutes(5));
            }

            String m = BenchHttp.enc(name);
            IntFunction<String> text = i -> BenchHttp.enc(prompt(tok, n, i));
            int last = c.nLayers() - 1;
            String a = BenchHttp.enc(tok.display(tok.encodeText(prompt(tok, 2, 0))[0], false));
            List<View> views = List.of(
                    new View("model page", i -> "/api/v1/models/" + m),
                    new View("prompt", i -> "/api/v1/models/" + m + "/prompt?text=" + text.apply(i)),
                    new View("logit lens", i -> "/api/v1/models/" + m + "/logit-lens?text=" + text.apply(i)),
                    new View("attention", i -> "/api/v1/models/" + m + "/attention?layer=" + last + "&text=" + text.apply(i)),
                    new View("dla", i -> "/api/v1/models/" + m + "/dla?a=" + a + "&text=" + text.apply(i)),
                    new View("detectors", i -> "/api/v1/models/" + m + "/detectors?seed=" + (1000 + i)));

            System.out.printf("Loupe explorer bench: model %s (%d layers, %d heads, d_model %d, vocab %d), %d-token prompt + BOS, %s%n",
                    name, c.nLayers(), c.nHeads(), c.dModel(), c.dVocab(), n, http.base());
            // first request: loads the model (reported, not part of the goals)
            long t0 = System.nanoTime();
            get("/api/v1/models/" + m + "/prompt?text=" + text.apply(-1));
            double firstMs = (System.nanoTime() - t0) / 1e6;
            System.out.printf("first request (loads the model): %.0f ms%n", firstMs);
            // warm-up: every view once on a throwaway input, so graphs are compiled and the JIT has run
            for (View v : views) for (int w = 0; w < 2; w++) get(v.request().apply(-2 - w));

            System.out.printf("%-12s %12s %12s %12s %12s  %s%n", "view", "cold median", "cold max", "cached med", "cached p95", "goal (<1 s cold, <50 ms cached)");
            ObjectNode summary = JsonNodeFactory.instance.objectNode();
            summary.put("model", name);
            summary.put("tokens", n);
            summary.put("first_request_ms", Math.round(firstMs));
            boolean allOk = true;
            for (View v : views) {
                double[] cold = new double[coldRuns];
                for (int i = 0; i < coldRuns; i++) cold[i] = timed(v.request().apply(i + 1), v.name().equals("model page") ? null : "miss");
                double[] cached = new double[cachedRuns];
                for (int i = 0; i < cachedRuns; i++) cached[i] = timed(v.request().apply(1), v.name().equals("model page") ? null : "hit");
                Arrays.sort(cold);
                Arrays.sort(cached);
                double coldMed = cold[cold.length / 2], coldMax = cold[cold.length - 1];
                double cachedMed = cached[cached.length / 2], cachedP95 = BenchHttp.percentile(cached, 95);
                boolean ok = coldMax < COLD_GOAL_MS && cachedMed < CACHED_GOAL_MS;
                allOk &= ok;
                System.out.printf("%-12s %9.1f ms %9.1f ms %9.1f ms %9.1f ms  %s%n", v.name(), coldMed, coldMax, cachedMed, cachedP95, ok ? "ok" : "MISSED");
                ObjectNode o = summary.putObject(v.name().replace(' ', '_'));
                o.put("cold_median_ms", round(coldMed));
                o.put("cold_max_ms", round(coldMax));
                o.put("cached_median_ms", round(cachedMed));
                o.put("cached_p95_ms", round(cachedP95));
            }
            summary.put("goals_met", allOk);
            System.out.println("explorer-bench: " + JSON.writeValueAsString(summary));
            return 0;
        } finally {
            if (process != null) {
                process.destroy();
                process.waitFor();
            }
            if (work != null) BenchHttp.deleteTree(work);
        }
    }

    /** The request's wall time over HTTP in ms; checks the status and, when given, the cache header. */
    private double timed(String path, String expectCache) throws Exception {
        long t0 = System.nanoTime();
        HttpResponse<byte[]> r = http.get(path);
        double ms = (System.nanoTime() - t0) / 1e6;
        if (r.statusCode() != 200) throw new IllegalStateException(path + " answered " + r.statusCode() + ": " + new String(r.body(), StandardCharsets.UTF_8));
        String cache = r.headers().firstValue("X-Loupe-Cache").orElse("");
        if (expectCache != null && !cache.equals(expectCache))
            throw new IllegalStateException(path + ": expected a cache " + expectCache + ", got '" + cache + "'");
        return ms;
    }

    private JsonNode get(String path) throws Exception {
        HttpResponse<byte[]> r = http.get(path);
        if (r.statusCode() != 200) throw new IllegalStateException(path + " answered " + r.statusCode() + ": " + new String(r.body(), StandardCharsets.UTF_8));
        return JSON.readTree(r.body());
    }

    /**
     * A prompt of exactly {@code n} tokens, different for every {@code variant}: English words for GPT-2's vocabulary
     * (dropped from the end until it fits), vocabulary words for a word list.
     */
    static String prompt(Tokenizer tok, int n, int variant) {
        String[] words = ("the quick brown fox jumps over a lazy dog while seven happy children watch from behind an old "
                + "wooden fence near the river and their teacher counts every bird that flies across the bright morning sky "
                + "before lunch").split(" ");
        StringBuilder sb = new StringBuilder("Sample " + Math.abs(variant * 7919 % 100000) + ":");
        int w = Math.floorMod(variant, words.length);
        if (tok instanceof dev.loupe.tokenizer.ListTokenizer lt) {
            List<String> vocab = lt.vocab().stream().filter(s -> !s.startsWith("<")).toList();
            List<String> out = new ArrayList<>();
            for (int i = 0; i < n; i++) out.add(vocab.get(Math.floorMod(i * 7 + variant * 13 + i / vocab.size(), vocab.size())));
            return String.join(" ", out);
        }
        while (tok.encodeText(sb.toString()).length < n) sb.append(" ").append(words[w++ % words.length]);
        String s = sb.toString();
        while (tok.encodeText(s).length > n) s = s.substring(0, s.length() - 1);
        return s;
    }

    private String defaultModel(Path models) throws IOException {
        String configured = model != null ? model : System.getProperty("loupe.default-model", System.getenv("LOUPE_DEFAULT_MODEL"));
        List<ModelFolder> usable = new ArrayList<>();
        try (Stream<Path> dirs = Files.list(models)) {
            for (Path d : dirs.filter(Files::isDirectory).sorted(Comparator.comparing(Path::toString)).toList()) {
                try {
                    usable.add(ModelFolder.open(d));
                } catch (ModelFolderException | RuntimeException ignored) {
                    // unusable folders are skipped, as the app does
                }
            }
        }
        return ModelFolder.chooseDefault(usable, Optional.ofNullable(configured)).map(ModelFolder::name)
                .orElseThrow(() -> new CliException("no usable model in " + models.toAbsolutePath()));
    }

    private static ModelFolder findByName(Path models, String name) throws IOException {
        try (Stream<Path> dirs = Files.list(models)) {
            for (Path d : dirs.filter(Files::isDirectory).toList()) {
                try {
                    ModelFolder f = ModelFolder.open(d);
                    if (f.name().equals(name)) return f;
                } catch (ModelFolderException ignored) {
                    // not this one
                }
            }
        }
        throw new CliException("model '" + name + "' not found in " + models.toAbsolutePath());
    }

    private Process startApp(Path work, Path models) throws Exception {
        AppProcess a = AppProcess.start(app, work, models, heap, List.of());
        http = new BenchHttp(a.base, Duration.ofMinutes(5));
        return a.process;
    }

    static GptConfig configOf(String size) {
        return switch (size) {
            case "small" -> GptConfig.small();
            case "medium" -> GptConfig.medium();
            case "large" -> GptConfig.large();
            case "xl" -> GptConfig.xl();
            default -> throw new CliException("unknown size '" + size + "' (small, medium, large, xl)");
        };
    }

    static void writeRandomModel(Path dir, String name, GptConfig config) throws IOException {
        Files.createDirectories(dir);
        GptWeights.random(config, 0, false).save(dir.resolve("model.safetensors"), Map.of("config", config.toJson().toString()));
        ObjectNode manifest = JsonNodeFactory.instance.objectNode();
        manifest.put("name", name);
        manifest.put("description", "Random GPT-2 weights for the explorer bench.");
        manifest.set("config", config.toJson());
        manifest.putObject("tokenizer").put("type", "gpt2");
        manifest.put("weights", "model.safetensors");
        manifest.put("placeholder", true);
        ModelFolder.writeManifest(dir, manifest);
    }

    private static double round(double v) { return Math.round(v * 10) / 10.0; }

}
