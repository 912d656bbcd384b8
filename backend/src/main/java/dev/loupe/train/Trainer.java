package dev.loupe.train;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.grad.Backprop;
import dev.loupe.grad.GradGraph;
import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.model.ModelFolder;
import dev.loupe.model.Safetensors;
import dev.loupe.model.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Trains a GPT-2-family model from a {@link Recipe}: one fused forward+backward graph per step ({@link GradGraph}),
 * AdamW in Java, warm-up and cosine decay, gradient clipping. Every batch is a function of the seed and the step,
 * so a run killed and resumed from its last checkpoint continues exactly as it would have.
 *
 * <p>The work folder holds {@code checkpoint.safetensors} (weights, Adam moments; metadata: step, tokens, elapsed
 * seconds), {@code train.csv} and {@code eval.csv}. At the end the model folder gets {@code model.safetensors},
 * {@code manifest.json}, {@code recipe.json}, {@code eval.csv} and a {@code CARD.md} with the figures.
 */
public final class Trainer {
    public static final String CHECKPOINT = "checkpoint.safetensors";

    public record Options(Path workDir, Path modelDir, boolean resume, int threads, PrintStream out) {}

    /** {@code complete} is false when {@link #requestStop} ended the run early: then there is a checkpoint but no model yet. */
    public record Summary(long steps, long tokens, double seconds, double tokensPerSecond, Map<String, Double> finalEval, boolean complete) {}

    private final Recipe recipe;
    private final Task task;
    private volatile boolean stopRequested;
    private final Options o;
    private final GptConfig config;
    private final List<AdamW.Param> params = new ArrayList<>();
    private final Map<String, FloatBuffer> direct = new LinkedHashMap<>();
    private final Map<String, int[]> shapes;

    public Trainer(Recipe recipe, Task task, Options options) {
        this.recipe = recipe;
        this.task = task;
        this.o = options;
        this.config = recipe.config();
        this.shapes = GptWeights.expectedShapes(config);
    }

    /**
     * Asks a running {@link #run} to stop after the step under way, write a checkpoint and return (a shutdown hook calls
     * this on Ctrl-C or SIGTERM, so the JVM does not exit while ONNX Runtime is mid-step).
     */
    public void requestStop() {
        stopRequested = true;
    }

    private boolean decays(String name) {
        boolean embedding = name.equals("wte.weight") || name.equals("wpe.weight");
        return name.endsWith(".weight") && !name.contains("ln_") && (recipe.decayEmbeddings() || !embedding);
    }

    public Summary run() throws IOException, OrtException {
        Files.createDirectories(o.workDir());
        Path ckpt = o.workDir().resolve(CHECKPOINT);
        long startStep = 0, tokens = 0;
        double elapsedBefore = 0;
        GptWeights init = recipe.json().hasNonNull("init_from")
                ? GptWeights.load(Path.of(recipe.json().get("init_from").asText()), config) // a later stage of a multi-stage recipe
                : GptWeights.random(config, recipe.seed(), false);
        for (var e : init.tensors().entrySet()) params.add(new AdamW.Param(e.getKey(), e.getValue().data(), decays(e.getKey())));
        if (Files.exists(ckpt)) {
            if (!o.resume())
                throw new IllegalStateException("a checkpoint exists in " + o.workDir() + ": pass --resume to continue it, or remove the folder to start over");
            try (Safetensors st = Safetensors.open(ckpt)) {
                for (AdamW.Param p : params) {
                    System.arraycopy(st.read("w." + p.name).data(), 0, p.w, 0, p.w.length);
                    System.arraycopy(st.read("m." + p.name).data(), 0, p.m, 0, p.m.length);
                    System.arraycopy(st.read("v." + p.name).data(), 0, p.v, 0, p.v.length);
                }
                startStep = Long.parseLong(st.metadata().get("step"));
                tokens = Long.parseLong(st.metadata().get("tokens"));
                elapsedBefore = Double.parseDouble(st.metadata().get("elapsed_s"));
            }
            trimCsv(o.workDir().resolve("train.csv"), startStep);
            trimCsv(o.workDir().resolve("eval.csv"), startStep);
            o.out().printf(Locale.ROOT, "train %s: resumed at step %d/%d from %s%n", recipe.name(), startStep, recipe.steps(), ckpt);
        } else {
            Files.deleteIfExists(o.workDir().resolve("train.csv"));
            Files.deleteIfExists(o.workDir().resolve("eval.csv"));
            o.out().printf(Locale.ROOT, "train %s: %,d parameters, %d steps of %d × %d tokens, threads %d%n", recipe.name(),
                    config.parameterCount(), recipe.steps(), recipe.batch(), recipe.seq(), o.threads());
        }
        AdamW opt = new AdamW(params, recipe.beta1(), recipe.beta2(), recipe.eps(), recipe.weightDecay());
        Map<String, Double> lastEval = Map.of();
        try (Backprop bp = new Backprop(config, o.threads())) {
            Map<String, OnnxTensor> feeds = weightFeeds(bp, params, shapes, direct);
            Task.Evaluator ev = (spec, toks, ports) -> bp.run(spec, feeds, toks, ports);
            long t0 = System.nanoTime(), windowStart = t0, windowTokens = 0;
            double lossSum = 0, evalSeconds = 0;
            int lossCount = 0;
            for (long step = startStep; step < recipe.steps(); step++) {
                Task.StepBatch b = task.batch(step);
                Backprop.Result r;
                if (recipe.dropout() > 0) {
                    Map<String, OnnxTensor> withMasks = new LinkedHashMap<>(feeds);
                    List<OnnxTensor> masks = dropoutMasks(bp, step, b.rows(), b.len());
                    List<String> names = GradGraph.dropoutMasks(config);
                    for (int i = 0; i < names.size(); i++) withMasks.put(names.get(i), masks.get(i));
                    try {
                        r = bp.run(GradGraph.Spec.trainingWithDropout(), withMasks, b.tokens(), b.ports());
                    } finally {
                        for (OnnxTensor m : masks) m.close();
                    }
                } else {
                    r = bp.run(GradGraph.Spec.training(), feeds, b.tokens(), b.ports());
                }
                for (AdamW.Param p : params) p.g = r.get(GradGraph.weightGrad(p.name)).data();
                double lr = recipe.lrAt(step);
                double norm = opt.step(step + 1, lr, recipe.clip());
                for (AdamW.Param p : params) {
                    p.g = null;
                    direct.get(p.name).clear().put(p.w).rewind();
                }
                if (!Float.isFinite(r.metric())) throw new IllegalStateException("loss is " + r.metric() + " at step " + step);
                long batchTokens = (long) b.rows() * b.len();
                tokens += batchTokens;
                windowTokens += batchTokens;
                lossSum += r.metric();
                lossCount++;
                long done = step + 1;
                if (done % recipe.logEvery() == 0 || done == recipe.steps()) {
                    long now = System.nanoTime();
                    double window = (now - windowStart) / 1e9, tps = windowTokens / window;
                    double elapsed = elapsedBefore + (now - t0) / 1e9;
                    double secPerStep = window / Math.max(1, recipe.logEvery());
                    double left = (recipe.steps() - done) * secPerStep * (1 + evalSeconds / Math.max(1e-9, (now - t0) / 1e9));
                    double loss = lossSum / lossCount;
                    o.out().printf(Locale.ROOT, "train %s: step %d/%d  loss %.4f  %.0f tok/s  lr %.2e  |g| %.3f  elapsed %s  left %s%n",
                            recipe.name(), done, recipe.steps(), loss, tps, lr, norm, hms(elapsed), hms(left));
                    appendCsv(o.workDir().resolve("train.csv"), "step,tokens,train_loss,lr,grad_norm,elapsed_s",
                            String.format(Locale.ROOT, "%d,%d,%.5f,%.3e,%.4f,%.1f", done, tokens, loss, lr, norm, elapsed));
                    windowStart = now;
                    windowTokens = 0;
                    lossSum = 0;
                    lossCount = 0;
                }
                boolean last = done == recipe.steps();
                if (done % recipe.evalEvery() == 0 || last) {
                    long e0 = System.nanoTime();
                    lastEval = task.evaluate(ev);
                    evalSeconds += (System.nanoTime() - e0) / 1e9;
                    StringBuilder line = new StringBuilder(), header = new StringBuilder("step,tokens"), row = new StringBuilder(done + "," + tokens);
                    lastEval.forEach((k, v) -> {
                        line.append(String.format(Locale.ROOT, "  %s %.4f", k, v));
                        header.append(',').append(k);
                        row.append(String.format(Locale.ROOT, ",%.5f", v));
                    });
                    o.out().printf(Locale.ROOT, "eval %s: step %d%s%n", recipe.name(), done, line);
                    appendCsv(o.workDir().resolve("eval.csv"), header.toString(), row.toString());
                    windowStart += System.nanoTime() - e0;
                }
                if (done % recipe.checkpointEvery() == 0 || last || stopRequested) {
                    long c0 = System.nanoTime();
                    checkpoint(ckpt, done, tokens, elapsedBefore + (System.nanoTime() - t0) / 1e9);
                    windowStart += System.nanoTime() - c0;
                }
                if (stopRequested && !last) {
                    double elapsed = elapsedBefore + (System.nanoTime() - t0) / 1e9;
                    for (var f : feeds.values()) f.close();
                    o.out().printf(Locale.ROOT, "train %s: stopped after step %d/%d; checkpoint in %s, continue with --resume%n",
                            recipe.name(), done, recipe.steps(), o.workDir());
                    return new Summary(done, tokens, elapsed, tokens / elapsed, Map.of(), false);
                }
            }
            double seconds = elapsedBefore + (System.nanoTime() - t0) / 1e9;
            if (lastEval.isEmpty()) lastEval = task.evaluate(ev);
            String report = task.report(ev, lastEval);
            for (var f : feeds.values()) f.close();
            writeModel(recipe.steps(), tokens, seconds, lastEval, report);
            return new Summary(recipe.steps(), tokens, seconds, tokens / seconds, lastEval, true);
        }
    }

    /** Dropout masks of step {@code step}: 0 with probability p, else 1/(1−p); a function of the seed and the step. */
    private List<OnnxTensor> dropoutMasks(Backprop bp, long step, int rows, int len) throws OrtException {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(recipe.seed() * 0x9E3779B97F4A7C15L + 0x5DEECE66DL * (step + 1));
        float keep = (float) (1 / (1 - recipe.dropout()));
        List<OnnxTensor> out = new ArrayList<>();
        for (String ignored : GradGraph.dropoutMasks(config)) {
            float[] m = new float[rows * len * config.dModel()];
            for (int i = 0; i < m.length; i++) m[i] = rnd.nextDouble() < recipe.dropout() ? 0f : keep;
            out.add(bp.tensor(m, new int[]{rows, len, config.dModel()}));
        }
        return out;
    }

    private void checkpoint(Path file, long step, long tokens, double elapsed) throws IOException {
        Map<String, Tensor> t = new LinkedHashMap<>();
        for (AdamW.Param p : params) {
            int[] s = shapes.get(p.name);
            t.put("w." + p.name, new Tensor(p.w, s));
            t.put("m." + p.name, new Tensor(p.m, s));
            t.put("v." + p.name, new Tensor(p.v, s));
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "loupe-checkpoint-1");
        meta.put("step", Long.toString(step));
        meta.put("tokens", Long.toString(tokens));
        meta.put("elapsed_s", String.format(Locale.ROOT, "%.1f", elapsed));
        meta.put("recipe", recipe.json().toString());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Safetensors.write(tmp, t, meta);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** The current weights. */
    public GptWeights weights() {
        Map<String, Tensor> t = new LinkedHashMap<>();
        for (AdamW.Param p : params) t.put(p.name, new Tensor(p.w.clone(), shapes.get(p.name)));
        try {
            return GptWeights.of(config, t);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private void writeModel(long steps, long tokens, double seconds, Map<String, Double> eval, String report) throws IOException {
        Path dir = o.modelDir();
        Files.createDirectories(dir);
        Map<String, Tensor> t = new LinkedHashMap<>();
        for (AdamW.Param p : params) t.put(p.name, new Tensor(p.w, shapes.get(p.name)));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("config", config.toJson().toString());
        Safetensors.DType dtype = Safetensors.DType.valueOf(recipe.saveDtype());
        Safetensors.write(dir.resolve("model.safetensors"), t, meta, dtype);
        Files.writeString(dir.resolve("recipe.json"), recipe.toJsonText() + "\n");
        Path evalCsv = o.workDir().resolve("eval.csv");
        if (Files.exists(evalCsv)) Files.copy(evalCsv, dir.resolve("eval.csv"), StandardCopyOption.REPLACE_EXISTING);

        ObjectNode m = JsonNodeFactory.instance.objectNode();
        m.put("name", dir.getFileName().toString());
        m.put("description", recipe.description());
        m.set("config", config.toJson());
        m.set("tokenizer", task.tokenizer());
        m.put("weights", "model.safetensors");
        m.put("card", "CARD.md");
        m.put("placeholder", false);
        if (task.scoredAfter() > 0) m.put("scored_after", task.scoredAfter());
        if (recipe.isDefault()) m.put("default", true);
        ObjectNode prov = m.putObject("provenance");
        prov.put("source", "trained by Loupe (./loupe train recipe.json)");
        prov.put("recipe", "recipe.json");
        prov.put("recipe_name", recipe.name());
        prov.put("steps", steps);
        prov.put("tokens", tokens);
        prov.put("wall_time_s", Math.round(seconds));
        prov.put("weights_dtype", recipe.saveDtype());
        EarlierStages earlier = earlierStages();
        if (earlier != null) { // the whole chain of stages that made these weights
            prov.put("stages", earlier.stages() + 1);
            prov.put("total_steps", earlier.steps() + steps);
            prov.put("total_tokens", earlier.tokens() + tokens);
            prov.put("total_wall_time_s", Math.round(earlier.wallSeconds() + seconds));
        }
        ObjectNode ev = prov.putObject("evaluation");
        eval.forEach(ev::put);
        ModelFolder.writeManifest(dir, m);
        Files.writeString(dir.resolve("CARD.md"), card(steps, tokens, seconds, eval, report));
    }

    /** What the stages before this one did, summed, read from the manifest beside {@code init_from}'s weights. */
    private record EarlierStages(int stages, long steps, long tokens, double wallSeconds, String lastRecipe, JsonNode lastEvaluation) {
    }

    private EarlierStages earlierStages() throws IOException {
        if (!recipe.json().hasNonNull("init_from")) return null;
        Path folder = Path.of(recipe.json().get("init_from").asText()).toAbsolutePath().getParent();
        Path manifest = folder.resolve(ModelFolder.MANIFEST);
        if (!Files.exists(manifest)) return null;
        JsonNode prov = json().readTree(manifest.toFile()).path("provenance");
        // a manifest of a single stage has no totals: its own figures are the totals
        return new EarlierStages(prov.path("stages").asInt(1), prov.path("total_steps").asLong(prov.path("steps").asLong()),
                prov.path("total_tokens").asLong(prov.path("tokens").asLong()),
                prov.path("total_wall_time_s").asDouble(prov.path("wall_time_s").asDouble()),
                prov.path("recipe_name").asText(folder.getFileName().toString()), prov.path("evaluation"));
    }

    private String card(long steps, long tokens, double seconds, Map<String, Double> eval, String report) throws IOException {
        StringBuilder b = new StringBuilder();
        b.append("# ").append(o.modelDir().getFileName()).append("\n\n").append(recipe.description()).append("\n\n");
        b.append("## Model\n\n");
        b.append(String.format(Locale.ROOT, "GPT-2 architecture%s: %d layer%s, %d heads, d_model %d%s, context %d, vocabulary %d; %,d parameters "
                        + "(weights stored as %s).%n%n", config.attnOnly() ? ", attention only" : "", config.nLayers(), config.nLayers() > 1 ? "s" : "",
                config.nHeads(), config.dModel(), config.attnOnly() ? "" : ", d_mlp " + config.dMlp(), config.nCtx(), config.dVocab(),
                config.parameterCount(), recipe.saveDtype()));
        b.append("## Data\n\n").append(task.dataDescription()).append("\n\n");
        b.append("## Training\n\n");
        b.append(String.format(Locale.ROOT, "%d steps, batch %s × %d tokens, %,d tokens in all. AdamW (β = %s, %s; ε = %s; weight decay %s on matrices%s), learning rate %s with %d warm-up steps and %s to %s, gradient norm clipped at %s, seed %d%s. "
                        + "Wall time %s on this machine (%d cores, %s), %.0f tokens/s on average, evaluations included.%n%n",
                steps, recipe.batch() <= 0 ? "all" : Integer.toString(recipe.batch()), recipe.seq(), tokens, num(recipe.beta1()), num(recipe.beta2()),
                num(recipe.eps()), num(recipe.weightDecay()), recipe.decayEmbeddings() ? " and embeddings" : ", none on the embeddings",
                num(recipe.lr()), recipe.warmup(),
                recipe.decaySteps() > 0 ? "a cosine decay over the last " + recipe.decaySteps() + " steps" : "cosine decay", num(recipe.minLr()), num(recipe.clip()),
                recipe.seed(), recipe.dropout() > 0 ? ", residual dropout " + num(recipe.dropout()) : "", hms(seconds), Runtime.getRuntime().availableProcessors(), cpuName(), tokens / seconds));
        if (recipe.json().hasNonNull("init_from")) {
            Path from = Path.of(recipe.json().get("init_from").asText());
            b.append("This stage started from the weights `").append(from)
                    .append("` of an earlier stage (fresh optimizer state); the figures above are this stage's.");
            EarlierStages e = earlierStages();
            if (e != null)
                b.append(String.format(Locale.ROOT, " The earlier stage (recipe `%s`) ended with the evaluation %s; %s %d earlier stage%s trained "
                                + "%d steps, %,d tokens, in %s. All %d stages together: %d steps, %,d tokens, %s.",
                        e.lastRecipe(), e.lastEvaluation(), e.stages() == 1 ? "its" : "the", e.stages(), e.stages() == 1 ? "" : "s",
                        e.steps(), e.tokens(), hms(e.wallSeconds()), e.stages() + 1, e.steps() + steps, e.tokens() + tokens,
                        hms(e.wallSeconds() + seconds)));
            b.append("\n\n");
        }
        b.append("Reproduce: `./loupe train onnx-models/").append(o.modelDir().getFileName()).append("/recipe.json`.\n\n");
        b.append("## Evaluation\n\n| figure | value |\n| --- | ---: |\n");
        eval.forEach((k, v) -> b.append(String.format(Locale.ROOT, "| %s | %.4f |%n", k, v)));
        b.append('\n');
        if (!report.isBlank()) b.append(report).append('\n');
        b.append("## Curves\n\n");
        b.append(table(o.workDir().resolve("eval.csv"), 40, "Evaluations (also in `eval.csv`):"));
        b.append(table(o.workDir().resolve("train.csv"), 30, "Training loss (mean over the steps since the previous row):"));
        return b.toString();
    }

    private static String table(Path csv, int maxRows, String title) throws IOException {
        if (!Files.exists(csv)) return "";
        List<String> lines = Files.readAllLines(csv);
        if (lines.size() < 2) return "";
        StringBuilder b = new StringBuilder(title).append("\n\n");
        String[] head = lines.get(0).split(",");
        b.append("| ").append(String.join(" | ", head)).append(" |\n|");
        for (int i = 0; i < head.length; i++) b.append(" ---: |");
        b.append('\n');
        int n = lines.size() - 1, stride = Math.max(1, (n + maxRows - 1) / maxRows);
        for (int i = 1; i <= n; i++)
            if ((i - 1) % stride == 0 || i == n) b.append("| ").append(lines.get(i).replace(",", " | ")).append(" |\n");
        return b.append('\n').toString();
    }

    private static String cpuName() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/cpuinfo")))
                if (l.startsWith("model name")) return l.substring(l.indexOf(':') + 1).trim();
        } catch (IOException ignored) { /* not Linux */ }
        return System.getProperty("os.arch");
    }

    private static String num(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e6) return Long.toString((long) v);
        if (Math.abs(v) < 1e-3) return String.format(Locale.ROOT, "%.0e", v);
        return new java.math.BigDecimal(v).round(new java.math.MathContext(4)).stripTrailingZeros().toPlainString();
    }

    static String hms(double seconds) {
        long s = Math.round(seconds);
        if (s >= 3600) return String.format(Locale.ROOT, "%dh%02dm%02ds", s / 3600, s / 60 % 60, s % 60);
        if (s >= 60) return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        return s + "s";
    }

    private static void appendCsv(Path file, String header, String row) throws IOException {
        if (!Files.exists(file)) Files.writeString(file, header + "\n");
        Files.writeString(file, row + "\n", StandardOpenOption.APPEND);
    }

    private static void trimCsv(Path file, long maxStep) throws IOException {
        if (!Files.exists(file)) return;
        List<String> keep = new ArrayList<>();
        List<String> lines = Files.readAllLines(file);
        for (int i = 0; i < lines.size(); i++)
            if (i == 0 || Long.parseLong(lines.get(i).split(",")[0]) <= maxStep) keep.add(lines.get(i));
        Files.write(file, keep);
    }

    static ObjectMapper json() { return new ObjectMapper(); }

    /**
     * The weights as ONNX Runtime inputs over direct buffers ({@code direct}, filled here), so the optimizer can
     * update them in place between steps without re-wrapping.
     */
    public static Map<String, OnnxTensor> weightFeeds(Backprop bp, List<AdamW.Param> params, Map<String, int[]> shapes,
                                                      Map<String, FloatBuffer> direct) throws OrtException {
        Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
        for (AdamW.Param p : params) {
            FloatBuffer b = ByteBuffer.allocateDirect(p.w.length * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
            b.put(p.w).rewind();
            direct.put(p.name, b);
            feeds.put(p.name, bp.wrap(b, shapes.get(p.name)));
        }
        return feeds;
    }
}
