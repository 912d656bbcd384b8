package dev.loupe.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelFolderTest {
    private static final String CONFIG = "{\"n_layer\":2,\"n_head\":4,\"n_embd\":32,\"n_positions\":64,\"vocab_size\":100}";

    @TempDir
    Path dir;

    @Test
    void opensAValidFolderWithHuggingFaceDefaults() throws Exception {
        write("{\"name\":\"m\",\"config\":" + CONFIG + ",\"tokenizer\":{\"type\":\"gpt2\"}}");
        Files.write(dir.resolve("model.safetensors"), new byte[8]);
        Files.writeString(dir.resolve("CARD.md"), "# m");
        ModelFolder f = ModelFolder.open(dir);
        assertEquals("m", f.name());
        assertEquals(128, f.config().dMlp(), "n_inner defaults to 4·n_embd");
        assertEquals(8, f.config().dHead());
        assertEquals("# m", f.card());
    }

    @Test
    void namesEachProblem() throws Exception {
        assertEquals("missing manifest.json", problem());
        write("{\"config\": ");
        assertTrue(problem().startsWith("corrupt manifest.json"), problem());
        write("[1, 2]");
        assertEquals("manifest.json is not a JSON object", problem());
        write("{\"config\":{\"n_layer\":2,\"n_head\":3,\"n_embd\":32}}");
        assertEquals("manifest.json: invalid config: n_embd (32) must be divisible by n_head (3)", problem());
        write("{\"config\":{\"n_head\":4,\"n_embd\":32}}");
        assertEquals("manifest.json: config is missing integer 'n_layer'", problem());
        write("{\"config\":" + CONFIG + ",\"tokenizer\":{\"type\":\"sentencepiece\"}}");
        assertEquals("manifest.json: unknown tokenizer type 'sentencepiece'", problem());
        write("{\"config\":" + CONFIG + "}");
        assertEquals("missing weights file model.safetensors", problem());
    }

    @Test
    void defaultIsConfiguredThenMarkedThenFirstRealModel() throws Exception {
        ModelFolder placeholder = folder("a-placeholder", ",\"placeholder\":true");
        ModelFolder first = folder("b-first", "");
        ModelFolder marked = folder("c-marked", ",\"default\":true");
        var all = java.util.List.of(placeholder, first, marked);
        assertEquals("c-marked", ModelFolder.chooseDefault(all, java.util.Optional.empty()).orElseThrow().name());
        assertEquals("b-first", ModelFolder.chooseDefault(all, java.util.Optional.of("b-first")).orElseThrow().name());
        assertEquals("c-marked", ModelFolder.chooseDefault(all, java.util.Optional.of("gone")).orElseThrow().name());
        assertEquals("b-first", ModelFolder.chooseDefault(java.util.List.of(placeholder, first), java.util.Optional.empty()).orElseThrow().name());
        assertEquals("a-placeholder", ModelFolder.chooseDefault(java.util.List.of(placeholder), java.util.Optional.empty()).orElseThrow().name());
        assertTrue(ModelFolder.chooseDefault(java.util.List.of(), java.util.Optional.empty()).isEmpty());
    }

    private ModelFolder folder(String name, String extra) throws Exception {
        Path d = Files.createDirectories(dir.resolve(name));
        Files.writeString(d.resolve("manifest.json"), "{\"name\":\"" + name + "\",\"config\":" + CONFIG + extra + "}");
        Files.write(d.resolve("model.safetensors"), new byte[8]);
        return ModelFolder.open(d);
    }

    @Test
    void parameterCountOfGpt2SmallIs124M() {
        assertEquals(124_439_808L, GptConfig.small().parameterCount());
    }

    private void write(String manifest) throws IOException {
        Files.writeString(dir.resolve("manifest.json"), manifest);
    }

    private String problem() {
        return assertThrows(ModelFolderException.class, () -> ModelFolder.open(dir)).getMessage();
    }
}
