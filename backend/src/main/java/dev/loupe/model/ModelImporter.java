package dev.loupe.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.tokenizer.Gpt2Tokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Turns a Hugging Face GPT-2 safetensors file into a Loupe model folder ({@code DIR/NAME/} with manifest, F32
 * weights and a model card). Everything is validated before anything is written, and the folder appears
 * atomically, so a failed import leaves nothing behind.
 */
public final class ModelImporter {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private static final Map<Integer, Integer> GPT2_HEADS = Map.of(768, 12, 1024, 16, 1280, 20, 1600, 25);
    private static final ObjectMapper JSON = new ObjectMapper();

    private ModelImporter() {}

    /**
     * @param config the model's config, or null to read it from the file's {@code config} metadata or infer it from
     *               the tensor shapes ({@code nHeads}, or the GPT-2 family's head count for its width)
     * @return the new model folder
     */
    public static Path importFile(Path source, String name, Path modelsDir, GptConfig config, Integer nHeads) throws IOException {
        if (name == null || !NAME.matcher(name).matches())
            throw new IOException("invalid model name '" + name + "': use letters, digits, '.', '_' and '-' (at most 64)");
        Path target = modelsDir.resolve(name);
        if (Files.exists(target)) throw new IOException("model '" + name + "' already exists in " + modelsDir);
        if (!Files.isRegularFile(source)) throw new IOException("no such file: " + source);

        GptConfig cfg = config != null ? config : configOf(source, nHeads);
        GptWeights weights = GptWeights.load(source, cfg);
        String sha = sha256(source);

        Files.createDirectories(modelsDir);
        Path tmp = Files.createTempDirectory(modelsDir, "." + name + ".importing-");
        try {
            weights.save(tmp.resolve("model.safetensors"), Map.of("config", cfg.toJson().toString()));
            ObjectNode manifest = manifest(name, source, cfg, sha);
            ModelFolder.writeManifest(tmp, manifest);
            Files.writeString(tmp.resolve("CARD.md"), card(name, source, cfg, sha, manifest.path("provenance").path("imported").asText()));
            ModelFolder.open(tmp); // the folder must open as the web app will open it
            Safetensors.readableByAll(tmp, "rwxr-xr-x");
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (ModelFolderException e) {
            deleteTree(tmp);
            throw new IOException(e.getMessage(), e);
        } catch (IOException | RuntimeException e) {
            deleteTree(tmp);
            throw e;
        }
        return target;
    }

    /** The config from the file's metadata, else inferred from its tensor shapes. */
    static GptConfig configOf(Path source, Integer nHeads) throws IOException {
        Map<String, int[]> shapes = new LinkedHashMap<>();
        String metaConfig;
        try (Safetensors st = Safetensors.open(source)) {
            for (String n : st.names()) shapes.put(n, st.entry(n).shape());
            metaConfig = st.metadata().get("config");
        }
        if (metaConfig != null && nHeads == null) {
            try {
                return GptConfig.fromJson(JSON.readTree(metaConfig));
            } catch (IOException | IllegalArgumentException e) {
                throw new IOException(source.getFileName() + ": the 'config' metadata is unusable (" + e.getMessage() + "); pass --config");
            }
        }
        int[] wte = shapes.getOrDefault("wte.weight", shapes.get("transformer.wte.weight"));
        Integer heads = nHeads != null ? nHeads : wte != null && wte.length == 2 ? GPT2_HEADS.get(wte[1]) : null;
        if (heads == null)
            throw new IOException("cannot tell the number of heads from the shapes of " + source.getFileName() + "; pass --config");
        return GptWeights.inferConfig(shapes, heads);
    }

    private static ObjectNode manifest(String name, Path source, GptConfig cfg, String sha) {
        ObjectNode m = JSON.createObjectNode();
        m.put("name", name);
        m.put("description", "GPT-2-family model (" + cfg.nLayers() + " layers, d_model " + cfg.dModel() + ") imported from "
                + source.getFileName());
        m.set("config", cfg.toJson());
        ObjectNode tok = m.putObject("tokenizer");
        if (cfg.dVocab() == Gpt2Tokenizer.VOCAB_SIZE) tok.put("type", "gpt2");
        else { // no tokenizer is known for other vocabularies: name the ids so text can still be written
            tok.put("type", "list");
            var vocab = tok.putArray("vocab");
            for (int i = 0; i < cfg.dVocab(); i++) vocab.add("t" + i);
        }
        m.put("weights", "model.safetensors");
        m.put("card", "CARD.md");
        m.put("placeholder", false);
        ObjectNode p = m.putObject("provenance");
        p.put("source", source.getFileName().toString());
        p.put("sha256", sha);
        p.put("imported", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
        p.put("method", "loupe import: weights converted to float32, names made canonical, buffers dropped");
        return m;
    }

    private static String card(String name, Path source, GptConfig c, String sha, String date) {
        String tokenizer = c.dVocab() == Gpt2Tokenizer.VOCAB_SIZE
                ? "GPT-2 byte-level BPE (`r50k_base`); `<|endoftext|>` (50256) is prepended as BOS by default"
                : "none known for a vocabulary of " + c.dVocab() + ": tokens are named `t0` … `t" + (c.dVocab() - 1) + "`";
        return "# " + name + "\n\n"
                + "A GPT-2-family model imported into Loupe.\n\n"
                + "| | |\n| --- | --- |\n"
                + "| layers | " + c.nLayers() + " |\n"
                + "| heads | " + c.nHeads() + " (d_head " + c.dHead() + ") |\n"
                + "| d_model | " + c.dModel() + " |\n"
                + "| d_mlp | " + (c.attnOnly() ? "– (attention only)" : c.dMlp()) + " |\n"
                + "| context | " + c.nCtx() + " |\n"
                + "| vocabulary | " + c.dVocab() + " |\n"
                + "| parameters | " + String.format("%,d", c.parameterCount()) + " |\n\n"
                + "**Tokenizer:** " + tokenizer + ".\n\n"
                + "## Provenance\n\n"
                + "Imported from `" + source.getFileName() + "` (sha256 `" + sha + "`) on " + date + " with `loupe import`. "
                + "Weights were validated against the config, converted to float32 and stored under canonical names; "
                + "attention-mask buffers were dropped. Nothing is known about how the weights were trained beyond what the "
                + "source says.\n";
    }

    static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void deleteTree(Path dir) {
        try {
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override public FileVisitResult visitFile(Path f, BasicFileAttributes a) throws IOException {
                    Files.delete(f);
                    return FileVisitResult.CONTINUE;
                }

                @Override public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                    Files.delete(d);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException ignored) { /* best effort */ }
    }
}
