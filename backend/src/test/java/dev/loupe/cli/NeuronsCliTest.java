package dev.loupe.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.model.ModelFolder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;

/** {@code neurons index} and {@code neurons show} on a small random model with a list vocabulary and a token file. */
class NeuronsCliTest {
    static final GptConfig CONFIG = new GptConfig(2, 2, 16, 32, 12, 40);
    @TempDir Path dir;

    Path models() throws Exception {
        Path m = dir.resolve("models/tiny");
        GptWeights.random(CONFIG, 7, true).save(m.resolve("model.safetensors"), Map.of());
        ObjectNode manifest = new ObjectMapper().createObjectNode();
        manifest.put("name", "tiny");
        manifest.set("config", CONFIG.toJson());
        ObjectNode tok = manifest.putObject("tokenizer");
        tok.put("type", "list");
        var vocab = tok.putArray("vocab");
        for (int i = 0; i < 39; i++) vocab.add("w" + i);
        vocab.add("<bos>");
        ModelFolder.writeManifest(m, manifest);
        return dir.resolve("models");
    }

    /** Documents of ids 0..38, deterministic. */
    Path tokenFile(int docs) throws Exception {
        List<String> lines = new ArrayList<>();
        java.util.Random r = new java.util.Random(5);
        for (int d = 0; d < docs; d++) {
            int len = 5 + r.nextInt(30);
            lines.add(IntStream.range(0, len).mapToObj(i -> String.valueOf(Math.min(38, (int) Math.abs(r.nextGaussian() * 8))))
                    .collect(Collectors.joining(",")));
        }
        Path f = dir.resolve("docs.txt");
        Files.write(f, lines);
        return f;
    }

    @Test
    void indexesAndShowsTheIssuesJson() throws Exception {
        Path models = models();
        Path docs = tokenFile(30);
        assertEquals(0, CliTest.cli("neurons", "index", "tiny", "--token-file", docs.toString(), "--top", "5",
                "--models-dir", models.toString(), "--data", dir.resolve("data").toString()).code());
        assertTrue(Files.exists(dir.resolve("data/neurons/tiny.idx")));
        Path out = dir.resolve("n.json");
        var r = CliTest.cli("neurons", "show", "tiny", "1", "3", "--out", out.toString(),
                "--models-dir", models.toString(), "--data", dir.resolve("data").toString());
        assertEquals(0, r.code(), r.err());
        JsonNode page = new ObjectMapper().readTree(out.toFile());
        assertEquals(1, page.get("layer").asInt());
        assertEquals(3, page.get("index").asInt());
        assertEquals(5, page.get("examples").size());
        JsonNode first = page.get("examples").get(0);
        assertEquals(page.get("max").asDouble(), first.get("activation").asDouble(), 1e-6);
        int position = first.get("position").asInt();
        assertTrue(first.get("tokens").size() > position, "tokens run from the window's start through the position");
        assertEquals(39, first.get("tokens").get(0).asInt(), "each window starts with BOS");
        assertEquals(10, page.get("logits").get("top").size());
        assertTrue(page.get("logits").get("top").get(0).has("token"));
        assertEquals(10, page.get("logits").get("bottom").size());
        assertEquals(50, page.get("histogram").get("counts").size());
        assertEquals(5, page.get("bands").size());
    }

    @Test
    void badInputIsAClearError() throws Exception {
        Path models = models();
        String data = dir.resolve("data").toString();
        var unknown = CliTest.cli("neurons", "show", "nope", "0", "0", "--out", dir.resolve("x.json").toString(), "--models-dir", models.toString(), "--data", data);
        assertEquals(1, unknown.code());
        assertTrue(unknown.err().contains("no model 'nope'"), unknown.err());
        var missing = CliTest.cli("neurons", "show", "tiny", "0", "0", "--out", dir.resolve("x.json").toString(), "--models-dir", models.toString(), "--data", data);
        assertTrue(missing.err().contains("no neuron index for model 'tiny'") && missing.err().contains("neurons index tiny"), missing.err());
        CliTest.cli("neurons", "index", "tiny", "--token-file", tokenFile(12).toString(), "--models-dir", models.toString(), "--data", data);
        var range = CliTest.cli("neurons", "show", "tiny", "2", "0", "--out", dir.resolve("x.json").toString(), "--models-dir", models.toString(), "--data", data);
        assertTrue(range.err().contains("layer 2 is out of range [0, 2)"), range.err());
        Path bad = dir.resolve("bad.txt");
        Files.writeString(bad, "1,2,x\n");
        var parse = CliTest.cli("neurons", "index", "tiny", "--token-file", bad.toString(), "--models-dir", models.toString(), "--data", data);
        assertTrue(parse.err().contains("'x' is not a token id"), parse.err());
        Files.writeString(bad, "1,2,40\n");
        var vocab = CliTest.cli("neurons", "index", "tiny", "--token-file", bad.toString(), "--models-dir", models.toString(), "--data", data);
        assertTrue(vocab.err().contains("token id 40 is outside the vocabulary"), vocab.err());
        // the weights change: the old index is detected as stale
        GptWeights.random(CONFIG, 8, true).save(models.resolve("tiny/model.safetensors"), Map.of());
        var stale = CliTest.cli("neurons", "show", "tiny", "0", "0", "--out", dir.resolve("x.json").toString(), "--models-dir", models.toString(), "--data", data);
        assertTrue(stale.err().contains("built for other weights"), stale.err());
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void killedWithSigkillTheSameCommandContinuesToTheSameIndex() throws Exception {
        Path models = models();
        Path docs = tokenFile(1500);
        String data = dir.resolve("data").toString();
        List<String> args = List.of("neurons", "index", "tiny", "--token-file", docs.toString(), "--models-dir", models.toString(),
                "--data", data, "--checkpoint-seconds", "0");
        Path index = dir.resolve("data/neurons/tiny.idx"), checkpoint = dir.resolve("data/neurons/tiny.idx.checkpoint");
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx512m", "-cp", System.getProperty("java.class.path"), LoupeCli.class.getName()));
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("child.log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!Files.exists(checkpoint) && p.isAlive() && System.nanoTime() < deadline) Thread.sleep(20);
        Thread.sleep(300); // into the run, past the first checkpoints
        assertTrue(p.isAlive(), "the run was still going when killed:\n" + Files.readString(dir.resolve("child.log")));
        p.destroyForcibly(); // SIGKILL: no handler runs
        p.waitFor(30, TimeUnit.SECONDS);
        assertTrue(Files.exists(checkpoint), "a checkpoint survives kill -9");
        assertFalse(Files.exists(index), "no index from a killed run");
        var resumed = CliTest.cli(args.toArray(String[]::new));
        assertEquals(0, resumed.code(), resumed.err());
        assertFalse(Files.exists(checkpoint));
        Path whole = dir.resolve("whole.idx");
        List<String> again = new ArrayList<>(args);
        again.addAll(List.of("--out", whole.toString()));
        assertEquals(0, CliTest.cli(again.toArray(String[]::new)).code());
        assertArrayEquals(Files.readAllBytes(whole), Files.readAllBytes(index), "resumed after kill -9 == uninterrupted");
    }
}
