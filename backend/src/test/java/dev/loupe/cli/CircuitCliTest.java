package dev.loupe.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** ./loupe circuit on induction-2l: discovery writes every edge; --evaluate of all edges gives the clean metric. */
class CircuitCliTest {
    @TempDir Path dir;
    static final ObjectMapper JSON = new ObjectMapper();

    static Path models() {
        Path p = Path.of("onnx-models");
        return Files.isDirectory(p) ? p : Path.of("..", "onnx-models");
    }

    @Test void discoveryThenEvaluation() throws Exception {
        Assumptions.assumeTrue(Files.isDirectory(models().resolve("induction-2l")));
        Path data = dir.resolve("data.json"), out = dir.resolve("out.json"), edges = dir.resolve("edges.json"), ev = dir.resolve("ev.json");
        // token ids: <bos> r r' with r = 5..12; the answer is r's last token
        StringBuilder clean = new StringBuilder("[0"), corrupt = new StringBuilder("[0");
        for (int i = 5; i <= 12; i++) clean.append(',').append(i);
        for (int i = 105; i <= 112; i++) corrupt.append(',').append(i);
        for (int i = 5; i <= 11; i++) {
            clean.append(',').append(i);
            corrupt.append(',').append(i);
        }
        Files.writeString(data, "{\"prompts\":[{\"clean_tokens\":" + clean + "],\"corrupt_tokens\":" + corrupt + "],\"answer_token\":12,\"wrong_token\":200}]}");
        CliTest.Outcome o = CliTest.cli("circuit", "induction-2l", "--models-dir", models().toString(), "--dataset", data.toString(),
                "--method", "eap", "--out", out.toString(), "--threads", "2");
        assertEquals(0, o.code(), o.err());
        JsonNode r = JSON.readTree(out.toFile());
        assertEquals("eap", r.get("method").asText());
        assertEquals(81, r.get("edges").size());
        assertTrue(r.get("clean_metric").asDouble() > r.get("corrupt_metric").asDouble() + 3);
        assertFalse(r.get("faithfulness").isEmpty());

        StringBuilder all = new StringBuilder("{\"edges\":[");
        for (int i = 0; i < r.get("edges").size(); i++) {
            JsonNode e = r.get("edges").get(i);
            all.append(i == 0 ? "" : ",").append('"').append(e.get("from").asText()).append("->").append(e.get("to").asText()).append('"');
        }
        Files.writeString(edges, all.append("]}").toString());
        o = CliTest.cli("circuit", "induction-2l", "--models-dir", models().toString(), "--dataset", data.toString(),
                "--evaluate", edges.toString(), "--out", ev.toString(), "--threads", "2");
        assertEquals(0, o.code(), o.err());
        assertEquals(r.get("clean_metric").asDouble(), JSON.readTree(ev.toFile()).get("metric").asDouble(), 1e-4);
    }

    @Test void badInputIsOneLine() throws Exception {
        Assumptions.assumeTrue(Files.isDirectory(models().resolve("induction-2l")));
        Path data = dir.resolve("bad.json"), edges = dir.resolve("edges.json");
        Files.writeString(data, "{\"prompts\":[{\"clean_tokens\":[0,1,2],\"corrupt_tokens\":[0,1],\"answer_token\":3,\"wrong_token\":4}]}");
        CliTest.Outcome o = CliTest.cli("circuit", "induction-2l", "--models-dir", models().toString(), "--dataset", data.toString(),
                "--out", dir.resolve("o.json").toString());
        assertEquals(1, o.code());
        assertTrue(o.err().contains("pair 0: clean and corrupted prompts must have the same number of tokens"), o.err());
        Files.writeString(data, "{\"prompts\":[{\"clean_tokens\":[0,1,2],\"corrupt_tokens\":[0,1,5],\"answer_token\":3,\"wrong_token\":4}]}");
        Files.writeString(edges, "{\"edges\":[\"a1.h0->a0.h2<k>\"]}");
        o = CliTest.cli("circuit", "induction-2l", "--models-dir", models().toString(), "--dataset", data.toString(),
                "--evaluate", edges.toString(), "--out", dir.resolve("o.json").toString());
        assertEquals(1, o.code());
        assertTrue(o.err().contains("a1.h0 is not upstream of a0.h2<k>"), o.err());
        assertFalse(Files.exists(dir.resolve("o.json")));
    }
}
