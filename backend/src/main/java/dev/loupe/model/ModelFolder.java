package dev.loupe.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * A model as it lives on disk: {@code onnx-models/NAME/} with a {@code manifest.json}, a weights file and a
 * model card. The manifest:
 * <pre>
 * { "name": "...", "description": "...", "config": { Hugging Face config.json names },
 *   "tokenizer": {"type": "gpt2"} | {"type": "list", "vocab": ["a", "b", ...]},
 *   "weights": "model.safetensors", "card": "CARD.md", "placeholder": false,
 *   "provenance": { free-form: where the weights came from, how they were made } }
 * </pre>
 */
public final class ModelFolder {
    public static final String MANIFEST = "manifest.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final ObjectNode manifest;
    private final GptConfig config;

    private ModelFolder(Path dir, ObjectNode manifest, GptConfig config) {
        this.dir = dir;
        this.manifest = manifest;
        this.config = config;
    }

    /** Opens and validates a folder; every problem is reported with a message a user can act on. */
    public static ModelFolder open(Path dir) throws ModelFolderException {
        Path manifestFile = dir.resolve(MANIFEST);
        if (!Files.isRegularFile(manifestFile)) throw new ModelFolderException("missing " + MANIFEST);
        JsonNode root;
        try {
            root = JSON.readTree(manifestFile.toFile());
        } catch (IOException e) {
            throw new ModelFolderException("corrupt " + MANIFEST + ": " + firstLine(e.getMessage()));
        }
        if (!(root instanceof ObjectNode manifest)) throw new ModelFolderException(MANIFEST + " is not a JSON object");
        GptConfig config;
        try {
            config = GptConfig.fromJson(manifest.get("config"));
        } catch (IllegalArgumentException e) {
            throw new ModelFolderException(MANIFEST + ": " + e.getMessage());
        }
        String tokenizerType = manifest.path("tokenizer").path("type").asText("gpt2");
        if (!tokenizerType.equals("gpt2") && !tokenizerType.equals("list"))
            throw new ModelFolderException(MANIFEST + ": unknown tokenizer type '" + tokenizerType + "'");
        ModelFolder folder = new ModelFolder(dir, manifest, config);
        if (!Files.isRegularFile(folder.weightsFile()))
            throw new ModelFolderException("missing weights file " + folder.manifest.path("weights").asText("model.safetensors"));
        return folder;
    }

    public Path dir() { return dir; }
    public ObjectNode manifest() { return manifest; }
    public GptConfig config() { return config; }

    /** The model's name: the manifest's, else the folder's. */
    public String name() { return manifest.path("name").asText(dir.getFileName().toString()); }
    public String description() { return manifest.path("description").asText(""); }
    public boolean placeholder() { return manifest.path("placeholder").asBoolean(false); }
    /** Marked in its manifest as the model the app opens by default. */
    public boolean isDefault() { return manifest.path("default").asBoolean(false); }

    /**
     * The model the app opens first: the configured one when it is usable, else the one whose manifest says
     * {@code "default": true}, else the first real (non-placeholder) model, else any.
     */
    public static Optional<ModelFolder> chooseDefault(List<ModelFolder> usable, Optional<String> configured) {
        return configured.filter(c -> !c.isBlank())
                .flatMap(c -> usable.stream().filter(f -> f.name().equals(c)).findFirst())
                .or(() -> usable.stream().filter(ModelFolder::isDefault).findFirst())
                .or(() -> usable.stream().filter(f -> !f.placeholder()).findFirst())
                .or(() -> usable.stream().findFirst());
    }
    public String tokenizerType() { return manifest.path("tokenizer").path("type").asText("gpt2"); }
    public JsonNode tokenizerSpec() { return manifest.path("tokenizer"); }
    public JsonNode provenance() { return manifest.path("provenance"); }
    public Path weightsFile() { return dir.resolve(manifest.path("weights").asText("model.safetensors")); }
    public Path cardFile() { return dir.resolve(manifest.path("card").asText("CARD.md")); }

    /**
     * The first position whose next-token prediction the model was trained on ({@code "scored_after"} in the
     * manifest; 0, every position, when absent). Toy tasks score only the answer: modular addition "a b =" only the
     * prediction after "=", so the losses of the prompt's own tokens mean nothing there.
     */
    public int scoredAfter() { return Math.max(0, manifest.path("scored_after").asInt(0)); }

    /** The training run's evaluations ({@code eval.csv}), {@link Evaluations#NONE} when the folder has none. */
    public Evaluations evaluations() { return Evaluations.read(dir.resolve("eval.csv")); }

    /** The model card as Markdown, or an empty string when the folder has none. */
    public String card() {
        try {
            return Files.isRegularFile(cardFile()) ? Files.readString(cardFile()) : "";
        } catch (IOException e) {
            return "";
        }
    }

    /** Reads config, weights and tokenizer into memory. */
    public LoadedModel load() throws ModelFolderException { return LoadedModel.load(this); }

    /** Writes a manifest (used by import and the trainer). */
    public static void writeManifest(Path dir, ObjectNode manifest) throws IOException {
        Files.createDirectories(dir);
        JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve(MANIFEST).toFile(), manifest);
    }

    private static String firstLine(String s) {
        if (s == null) return "unreadable";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
