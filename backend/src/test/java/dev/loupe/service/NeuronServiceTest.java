package dev.loupe.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.api.ApiException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The default model's shipped neuron index through the service: it belongs to the committed weights, its pages,
 * browser and search answer, its stored examples are what the engine computes, "test your own text" finds the
 * neuron's own top token, and bad input is a clear 400/404. Also the page-read time (the issue's goal: p95 < 20 ms).
 */
class NeuronServiceTest {
    static NeuronService neurons;
    static ModelEngines engines;

    @BeforeAll
    static void setUp() throws Exception {
        Path models = Path.of("..", "onnx-models").toAbsolutePath().normalize();
        ModelCatalog catalog = new ModelCatalog(models.toString());
        engines = new ModelEngines(catalog);
        Path data = Files.createTempDirectory("loupe-neurons-test");
        neurons = new NeuronService(engines, new ComputeScheduler(new ComputeScheduler.Limits(2, 16, Duration.ofSeconds(30), 1L << 30, 8)), data.toString());
    }

    @AfterAll
    static void close() { engines.close(); }

    @Test
    void theDefaultModelShipsAnIndexOfItsWeights() {
        JsonNode s = neurons.status("brown-6l");
        assertTrue(s.get("indexed").asBoolean(), s.toString());
        assertEquals(6, s.get("layers").asInt());
        assertEquals(512, s.get("dMlp").asInt());
        assertEquals("brown-heldout", s.get("corpus").asText());
    }

    @Test
    void pagesHoldWhatTheIssueLists() {
        JsonNode p = neurons.neuron("brown-6l", 0, 357);
        assertEquals(20, p.get("examples").size());
        assertEquals(5, p.get("bands").size());
        assertEquals(50, p.get("histogram").get("counts").size());
        assertEquals(10, p.get("logits").get("top").size());
        assertTrue(p.get("pos").get("classes").size() > 5);
        assertTrue(p.get("label").get("text").asText().startsWith("fires on") || p.get("label").get("text").asText().startsWith("no dominant"));
        JsonNode first = p.get("examples").get(0);
        assertEquals(50256, first.get("tokens").get(0).asInt(), "windows start with BOS");
        assertEquals(p.get("max").asDouble(), first.get("activation").asDouble(), 1e-6);
    }

    @Test
    void storedExamplesAreWhatTheEngineComputesOverTheWholeWindow() {
        for (int[] ln : new int[][]{{0, 357}, {3, 100}, {5, 511}}) {
            JsonNode p = neurons.neuron("brown-6l", ln[0], ln[1]);
            for (JsonNode e : List.of(p.get("examples").get(0), p.get("examples").get(19))) {
                JsonNode w = neurons.window("test", "brown-6l", ln[0], ln[1], e.get("window").asInt());
                assertEquals(e.get("activation").asDouble(), w.get("acts").get(e.get("position").asInt()).asDouble(), 1e-4, "L" + ln[0] + " N" + ln[1]);
                for (int i = 0; i < e.get("tokens").size(); i++) assertEquals(e.get("tokens").get(i).asInt(), w.get("tokens").get(i).asInt());
            }
        }
    }

    @Test
    void testTextAndSearch() {
        JsonNode p = neurons.neuron("brown-6l", 1, 245);
        String text = "The history " + p.get("label").get("tokens").path(0).path("token").asText(" of") + " the city";
        JsonNode t = neurons.test("test", "brown-6l", 1, 245, text);
        assertEquals(t.get("tokens").size(), t.get("acts").size());
        assertTrue(t.get("maxPosition").asInt() >= 1, "BOS is not the maximum");
        JsonNode fires = neurons.search("brown-6l", "fires", " of");
        assertTrue(fires.get("neurons").size() > 0);
        JsonNode predicts = neurons.search("brown-6l", "predicts", " the");
        assertEquals(NeuronService.SEARCH_RESULTS, predicts.get("neurons").size());
        assertTrue(predicts.get("neurons").get(0).get("value").asDouble() >= predicts.get("neurons").get(1).get("value").asDouble());
        JsonNode label = neurons.search("brown-6l", "label", "fires on");
        assertTrue(label.get("matches").asInt() > 100);
        assertTrue(neurons.layer("brown-6l", 2).get("neurons").size() == 512);
    }

    @Test
    void badInputIsAClearError() {
        assertEquals(400, status(() -> neurons.neuron("brown-6l", 6, 0)));
        assertEquals(404, status(() -> neurons.neuron("brown-6l", 0, 512)));
        assertEquals(404, status(() -> neurons.neuron("nope", 0, 0)));
        ApiException missing = assertThrows(ApiException.class, () -> neurons.neuron("brown-4l", 0, 0));
        assertEquals(404, missing.status().getStatusCode());
        assertTrue(missing.getMessage().contains("./loupe neurons index brown-4l"), missing.getMessage());
        assertEquals(400, status(() -> neurons.search("brown-6l", "fires", "hello world again")));
        assertEquals(400, status(() -> neurons.search("brown-6l", "sideways", "x")));
        assertEquals(400, status(() -> neurons.test("test", "brown-6l", 0, 0, "  ")));
        assertEquals(404, status(() -> neurons.window("test", "brown-6l", 0, 0, 100000)));
    }

    @Test
    void randomPagesAllReadAndTheirTimeIsPrinted() throws Exception {
        neurons.neuron("brown-6l", 0, 0);
        ObjectMapper json = new ObjectMapper();
        List<Double> ms = new ArrayList<>();
        java.util.Random r = new java.util.Random(1);
        for (int i = 0; i < 300; i++) {
            int l = r.nextInt(6), n = r.nextInt(512);
            long t0 = System.nanoTime();
            byte[] bytes = json.writeValueAsBytes(neurons.neuron("brown-6l", l, n));
            ms.add((System.nanoTime() - t0) / 1e6);
            assertTrue(bytes.length > 1000);
        }
        Collections.sort(ms);
        double p95 = ms.get((int) (ms.size() * 0.95));
        System.out.printf("neuron page JSON: p50 %.2f ms, p95 %.2f ms over %d random pages%n", ms.get(ms.size() / 2), p95, ms.size());
        // time is reported, not asserted: a loaded machine would make the test fail for the wrong reason
    }

    static int status(Runnable r) {
        try {
            r.run();
            return 200;
        } catch (ApiException e) {
            return e.status().getStatusCode();
        }
    }
}
