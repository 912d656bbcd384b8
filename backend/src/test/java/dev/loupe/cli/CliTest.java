package dev.loupe.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.model.ModelFolder;
import dev.loupe.model.Safetensors;
import dev.loupe.model.Tensor;
import dev.loupe.runtime.Engine;
import dev.loupe.runtime.Fixture;
import dev.loupe.runtime.RunRequest;
import dev.loupe.runtime.RunResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** import and dump on a freshly made GPT-2-vocabulary model, and their error cases, which write nothing. */
class CliTest {
    static final GptConfig CONFIG = new GptConfig(2, 2, 16, 32, 24, 50257);
    @TempDir Path dir;

    /** Runs the CLI, returning exit code and stderr. */
    record Outcome(int code, String err) {}

    static Outcome cli(String... args) {
        PrintStream oldErr = System.err, oldOut = System.out;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setErr(new PrintStream(err, true));
            System.setOut(new PrintStream(new ByteArrayOutputStream(), true));
            int code = LoupeCli.execute(args);
            System.err.flush();
            return new Outcome(code, err.toString());
        } finally {
            System.setErr(oldErr);
            System.setOut(oldOut);
        }
    }

    Path hfFile(GptWeights w) throws IOException {
        Map<String, Tensor> named = new LinkedHashMap<>();
        w.tensors().forEach((k, v) -> named.put("transformer." + k, v));
        named.put("transformer.h.0.attn.bias", Tensor.zeros(1, 1, 24, 24));
        Path f = dir.resolve("hf.safetensors");
        Safetensors.write(f, named, Map.of(), Safetensors.DType.BF16);
        Path cfg = dir.resolve("config.json");
        Files.writeString(cfg, new ObjectMapper().writeValueAsString(CONFIG.toJson()));
        return f;
    }

    @Test
    void importThenDumpMatchesTheEngine() throws Exception {
        GptWeights w = GptWeights.random(CONFIG, 7, true);
        Path src = hfFile(w);
        Path models = dir.resolve("models");
        Outcome imp = cli("import", src.toString(), "--name", "tiny", "--config", dir.resolve("config.json").toString(), "--models-dir", models.toString());
        assertEquals(0, imp.code(), imp.err());
        ModelFolder folder = ModelFolder.open(models.resolve("tiny"));
        assertEquals(CONFIG, folder.config());
        assertEquals("gpt2", folder.tokenizerType());
        assertEquals("hf.safetensors", folder.provenance().path("source").asText());
        assertEquals(64, folder.provenance().path("sha256").asText().length());
        assertTrue(folder.card().contains("tiny"));
        try (Safetensors st = Safetensors.open(folder.weightsFile())) {
            assertEquals(Safetensors.DType.F32, st.entry("wte.weight").dtype());
            assertFalse(st.contains("h.0.attn.bias"));
        }

        Path out = dir.resolve("dump.safetensors");
        Outcome dump = cli("dump", "tiny", "--text", "Hello world!", "--hooks", "blocks\\.1\\.attn\\.hook_(z|pattern)", "--out", out.toString(),
                "--models-dir", models.toString());
        assertEquals(0, dump.code(), dump.err());
        try (Safetensors st = Safetensors.open(out);
             Engine e = Engine.create(folder.load().weights());
             RunResult r = e.run(RunRequest.of(new int[]{50256, 15496, 995, 0}).cacheAll())) {
            assertEquals(java.util.Set.of("logits", "blocks.1.attn.hook_z", "blocks.1.attn.hook_pattern"), st.names());
            assertArrayEquals(new int[]{1, 4, 50257}, st.entry("logits").shape());
            assertTrue(r.logits().maxAbsDiff(st.read("logits")) < 1e-6f);
            assertTrue(r.get("blocks.1.attn.hook_z").maxAbsDiff(st.read("blocks.1.attn.hook_z")) < 1e-6f);
        }

        Path noBos = dir.resolve("nobos.safetensors");
        assertEquals(0, cli("dump", "tiny", "--text", "Hello world!", "--no-bos", "--hooks", "hook_embed", "--out", noBos.toString(),
                "--models-dir", models.toString()).code());
        try (Safetensors st = Safetensors.open(noBos)) {
            assertArrayEquals(new int[]{1, 3, 16}, st.entry("hook_embed").shape());
            assertEquals("[15496, 995, 0]", st.metadata().get("tokens"));
        }
    }

    @Test
    void dumpWithGradAgreesWithPyTorchAutograd() throws Exception {
        Fixture fx = Fixture.load("odd_3l");
        Path models = dir.resolve("models");
        fixtureModel(fx, models.resolve("odd"));

        String tokens = java.util.Arrays.stream(fx.prompts().get(0)).mapToObj(Integer::toString).collect(java.util.stream.Collectors.joining(","));
        String hooks = "blocks\\.(0\\.hook_resid_pre|1\\.attn\\.hook_pattern|2\\.mlp\\.hook_post)$";
        try (Safetensors golden = Safetensors.open(Fixture.path("odd_3l"))) {
            for (String metric : new ObjectMapper().readValue(golden.metadata().get("metrics"), String[].class)) {
                Path out = dir.resolve("grad.safetensors");
                Outcome r = cli("dump", "odd", "--tokens", tokens, "--hooks", hooks, "--grad", metric, "--out", out.toString(),
                        "--models-dir", models.toString());
                assertEquals(0, r.code(), r.err());
                try (Safetensors st = Safetensors.open(out)) {
                    for (String hook : java.util.List.of("blocks.0.hook_resid_pre", "blocks.1.attn.hook_pattern", "blocks.2.mlp.hook_post")) {
                        Tensor expected = golden.read("grad[" + metric + "]." + hook), actual = st.read("grad:" + hook);
                        assertArrayEquals(expected.shape(), actual.shape(), hook);
                        float scale = Math.max(1e-2f, expected.maxAbsDiff(Tensor.zeros(expected.shape())));
                        assertTrue(actual.maxAbsDiff(expected) <= 1e-4f * scale, metric + " at " + hook + ": " + actual.maxAbsDiff(expected));
                    }
                    assertEquals(golden.read("grad[" + metric + "].value").data()[0], Float.parseFloat(st.metadata().get("grad_metric_value")), 1e-4);
                }
            }
        }
        assertDumpFails("unknown metric", "dump", "odd", "--tokens", tokens, "--grad", "accuracy", "--out", dir.resolve("x.safetensors").toString(),
                "--models-dir", models.toString());
        assertFalse(Files.exists(dir.resolve("x.safetensors")));
    }

    @Test
    void errorsNameTheProblemAndWriteNothing() throws Exception {
        GptWeights w = GptWeights.random(CONFIG, 8, false);
        Path src = hfFile(w);
        Path models = dir.resolve("models");
        String cfg = dir.resolve("config.json").toString();
        assertEquals(0, cli("import", src.toString(), "--name", "tiny", "--config", cfg, "--models-dir", models.toString()).code());

        Outcome again = cli("import", src.toString(), "--name", "tiny", "--config", cfg, "--models-dir", models.toString());
        assertEquals(1, again.code());
        assertTrue(again.err().contains("already exists"), again.err());

        Files.writeString(dir.resolve("bad.json"), "{\"n_layer\":3,\"n_head\":2,\"n_embd\":16,\"n_positions\":24}");
        Outcome wrong = cli("import", src.toString(), "--name", "other", "--config", dir.resolve("bad.json").toString(), "--models-dir", models.toString());
        assertEquals(1, wrong.code());
        assertTrue(wrong.err().contains("missing tensors: h.2."), wrong.err());
        assertFalse(wrong.err().contains("\tat "), "no stack trace");

        byte[] bytes = Files.readAllBytes(src);
        Path cut = dir.resolve("cut.safetensors");
        Files.write(cut, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        Outcome truncated = cli("import", cut.toString(), "--name", "cut", "--config", cfg, "--models-dir", models.toString());
        assertEquals(1, truncated.code());
        assertTrue(truncated.err().contains("truncated"), truncated.err());
        try (Stream<Path> s = Files.list(models)) {
            assertEquals(java.util.List.of("tiny"), s.map(p -> p.getFileName().toString()).toList(), "failed imports leave nothing");
        }

        Path out = dir.resolve("never.safetensors");
        String m = models.toString(), o = out.toString();
        assertDumpFails("unknown model 'nope'", "dump", "nope", "--tokens", "1,2", "--out", o, "--models-dir", m);
        assertDumpFails("no hook matches 'hook_nothing'", "dump", "tiny", "--tokens", "1,2", "--hooks", "hook_nothing", "--out", o, "--models-dir", m);
        assertDumpFails("token id 50257 at position 1", "dump", "tiny", "--tokens", "1,50257", "--out", o, "--models-dir", m);
        assertDumpFails("'x' in --tokens is not a token id", "dump", "tiny", "--tokens", "1,x", "--out", o, "--models-dir", m);
        assertDumpFails("longer than the model's context of 24", "dump", "tiny", "--text", "word ".repeat(30), "--out", o, "--models-dir", m);
        assertFalse(Files.exists(out));
        assertEquals(2, cli("dump", "tiny", "--tokens", "1", "--models-dir", m).code(), "missing --out is a usage error");
    }

    /** A model folder of a fixture's weights with the list vocabulary t0, t1, …. */
    static void fixtureModel(Fixture fx, Path folder) throws IOException {
        Files.createDirectories(folder);
        Safetensors.write(folder.resolve("model.safetensors"), fx.weights().tensors(), Map.of());
        var manifest = new ObjectMapper().createObjectNode();
        manifest.set("config", fx.config().toJson());
        var vocab = manifest.putObject("tokenizer").put("type", "list").putArray("vocab");
        for (int i = 0; i < fx.config().dVocab(); i++) vocab.add("t" + i);
        ModelFolder.writeManifest(folder, manifest);
    }

    static void assertDumpFails(String message, String... args) {
        Outcome r = cli(args);
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains(message), r.err());
    }
}
