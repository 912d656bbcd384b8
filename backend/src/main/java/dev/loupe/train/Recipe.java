package dev.loupe.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.model.GptConfig;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A training recipe: model shape, task (data), batch, schedule and seed. Everything a run depends on, so that a
 * committed recipe reproduces its model. JSON fields (defaults in brackets):
 * <pre>
 * name, description, config {HF config.json names}, task {"type": "brown" | "modadd" | "induction", ...},
 * batch, seq, steps, lr, min_lr [lr/10], warmup [0], weight_decay [0.1], beta1 [0.9], beta2 [0.95], eps [1e-8],
 * clip [1.0], seed [0], log_every [10], eval_every [steps/10], checkpoint_every [eval_every],
 * save_dtype ["F32" | "F16"], default [false], init_from [none: random initialisation], dropout [0],
 * decay_steps [0: decay over the whole run], decay_embeddings [true]
 * </pre>
 * {@code dropout} is residual dropout (embedding sum, attention and MLP outputs) during training steps, with masks
 * drawn from the seed and the step. {@code init_from} names a weights file (e.g. {@code onnx-models/NAME/model.safetensors} of an earlier stage) to start
 * from instead of a random initialisation, with fresh optimizer state: a recipe in several stages.
 * Weights start from GPT-2's initialisation (N(0, 0.02), output projections scaled by 1/√(2·n_layer)) drawn with
 * {@code seed}. The learning rate rises linearly over {@code warmup} steps, then follows a cosine from {@code lr} to
 * {@code min_lr} at {@code steps}. With {@code decay_steps} set, it holds at {@code lr} and the cosine takes only the
 * last {@code decay_steps} steps (warm-up, stable, decay): the rate before the decay does not depend on {@code steps},
 * so a run's length can still be chosen while it is in its stable phase. Weight decay (decoupled, AdamW) applies to matrices, embeddings included
 * unless {@code decay_embeddings} is false, not to biases and LayerNorm weights. (Decayed embeddings kept small models
 * from forming induction heads in the toy runs of tools/recipes/experiments/induction-toys.md.)
 */
public record Recipe(ObjectNode json, String name, String description, GptConfig config, JsonNode task, int batch, int seq,
                     int steps, double lr, double minLr, int warmup, double weightDecay, double beta1, double beta2, double eps,
                     double clip, long seed, int logEvery, int evalEvery, int checkpointEvery,
                     String saveDtype, boolean isDefault, double dropout, int decaySteps) {

    public static Recipe read(Path file) throws IOException {
        JsonNode root = new ObjectMapper().readTree(file.toFile());
        if (!(root instanceof ObjectNode o)) throw new IOException(file + ": a recipe is a JSON object");
        return of(o, file.getFileName().toString().replaceFirst("\\.json$", ""));
    }

    public static Recipe of(ObjectNode o, String fallbackName) {
        int steps = req(o, "steps").asInt();
        double lr = req(o, "lr").asDouble();
        int evalEvery = o.path("eval_every").asInt(Math.max(1, steps / 10));
        return new Recipe(o, o.path("name").asText(fallbackName), o.path("description").asText(""),
                GptConfig.fromJson(req(o, "config")), req(o, "task"), o.path("batch").asInt(0), req(o, "seq").asInt(), steps,
                lr, o.path("min_lr").asDouble(lr / 10), o.path("warmup").asInt(0), o.path("weight_decay").asDouble(0.1),
                o.path("beta1").asDouble(0.9), o.path("beta2").asDouble(0.95), o.path("eps").asDouble(1e-8),
                o.path("clip").asDouble(1.0), o.path("seed").asLong(0),
                o.path("log_every").asInt(10), evalEvery, o.path("checkpoint_every").asInt(evalEvery),
                o.path("save_dtype").asText("F32"), o.path("default").asBoolean(false), o.path("dropout").asDouble(0),
                o.path("decay_steps").asInt(0));
    }

    private static JsonNode req(ObjectNode o, String key) {
        JsonNode v = o.get(key);
        if (v == null || v.isNull()) throw new IllegalArgumentException("recipe is missing '" + key + "'");
        return v;
    }

    /** Whether weight decay applies to the token and position embeddings too (recipe field {@code decay_embeddings}). */
    public boolean decayEmbeddings() { return json.path("decay_embeddings").asBoolean(true); }

    /** Learning rate at step {@code step} (0-based). */
    public double lrAt(long step) {
        if (warmup > 0 && step < warmup) return lr * (step + 1) / warmup;
        int decayStart = decaySteps > 0 ? Math.max(warmup, steps - decaySteps) : warmup;
        if (step < decayStart) return lr;
        double span = Math.max(1, steps - decayStart);
        double progress = Math.min(1.0, (step - decayStart) / span);
        return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * progress));
    }

    public String toJsonText() {
        try {
            return new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(json);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
