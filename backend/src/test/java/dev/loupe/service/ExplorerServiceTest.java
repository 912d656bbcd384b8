package dev.loupe.service;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.api.ApiException;
import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.model.ModelFolder;
import dev.loupe.store.ResultCache;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The explorer service without Quarkus: input checks with their messages, the default model, caching, loading. */
class ExplorerServiceTest {
    static Path dir;
    static ModelCatalog catalog;
    static ModelEngines engines;
    static Explorer explorer;

    @BeforeAll
    static void setUp() throws Exception {
        dir = Files.createTempDirectory("loupe-explorer-test");
        Path models = Files.createDirectories(dir.resolve("models"));
        writeModel(models.resolve("a-tiny"), "a-tiny", new GptConfig(1, 2, 8, 32, 16, 16), true,
                "{\"type\":\"list\",\"vocab\":[\"<bos>\",\"the\",\"cat\",\"sat\",\"on\",\"mat\",\"a\",\"dog\",\"ran\",\"to\",\"big\",\"small\",\"red\",\"blue\",\".\",\",\"]}");
        writeModel(models.resolve("b-gpt2"), "b-gpt2", new GptConfig(2, 4, 32, 64, 24, 50257), false, "{\"type\":\"gpt2\"}");
        catalog = new ModelCatalog(models.toString());
        engines = new ModelEngines(catalog);
        JdbcDataSource ds = new JdbcDataSource();
        ds.setURL("jdbc:h2:file:" + dir.resolve("data/loupe") + ";AUTO_SERVER=FALSE");
        String sql = Files.readString(Path.of("src/main/resources/db/migration/V1__result_cache_and_jobs.sql"));
        try (Connection c = ds.getConnection(); var st = c.createStatement()) {
            for (String stmt : sql.replaceAll("(?m)^--.*$", "").split(";")) if (!stmt.isBlank()) st.execute(stmt);
        }
        explorer = new Explorer(catalog, engines, new ResultCache(ds), new ComputeScheduler(new ComputeScheduler.Limits(2, 16, java.time.Duration.ofSeconds(30), 1L << 30, 8)), Optional.empty());
    }

    @AfterAll
    static void tearDown() { engines.close(); }

    static void writeModel(Path d, String name, GptConfig c, boolean placeholder, String tokenizer) throws Exception {
        Files.createDirectories(d);
        GptWeights.random(c, 3, true).save(d.resolve("model.safetensors"), Map.of());
        ObjectMapper json = new ObjectMapper();
        ObjectNode m = json.createObjectNode();
        m.put("name", name);
        m.set("config", c.toJson());
        m.set("tokenizer", json.readTree(tokenizer));
        m.put("weights", "model.safetensors");
        m.put("placeholder", placeholder);
        ModelFolder.writeManifest(d, m);
    }

    private static String message(Runnable r) {
        return assertThrows(ApiException.class, r::run).getMessage();
    }

    @Test
    void theDefaultModelIsTheConfiguredOneElseTheFirstRealOne() {
        assertEquals(Optional.of("b-gpt2"), explorer.defaultModel());
        Explorer configured = new Explorer(catalog, engines, null, null, Optional.of("a-tiny"));
        assertEquals(Optional.of("a-tiny"), configured.defaultModel());
        Explorer unknown = new Explorer(catalog, engines, null, null, Optional.of("gone"));
        assertEquals(Optional.of("b-gpt2"), unknown.defaultModel());
    }

    @Test
    void promptsAreCheckedWithMessagesAUserCanActOn() {
        assertEquals("the prompt is empty: type some text", message(() -> explorer.tokenize("b-gpt2", "  ")));
        assertTrue(message(() -> explorer.tokenize("b-gpt2", "word ".repeat(30))).contains("more than the context of b-gpt2 (24 tokens)"));
        assertTrue(message(() -> explorer.tokenize("a-tiny", "the zebra")).contains("unknown token 'zebra'"));
        assertEquals("unknown model 'nope'", message(() -> explorer.tokenize("nope", "hi")));
        assertEquals(404, assertThrows(ApiException.class, () -> explorer.prompt("nope", "hi")).status().getStatusCode());
        int[] ids = explorer.tokenize("b-gpt2", "Hello world");
        assertEquals(List.of(50256, 15496, 995), java.util.Arrays.stream(ids).boxed().toList());
    }

    @Test
    void tokensAreSingleTokensGivenAsTextOrId() {
        assertEquals(6342, explorer.token("b-gpt2", "·Paris", "token"));
        assertEquals(6342, explorer.token("b-gpt2", " Paris", "token"));
        assertEquals(123, explorer.token("b-gpt2", "#123", "token"));
        assertTrue(message(() -> explorer.token("b-gpt2", "#60000", "token")).contains("outside the vocabulary"));
        assertTrue(message(() -> explorer.token("b-gpt2", "Parisxyz", "token")).contains("it is 3 tokens"));
        assertEquals(2, explorer.token("a-tiny", "cat", "token"));
    }

    @Test
    void layersHeadsAndPositionsAreChecked() {
        assertEquals("layer 2 is out of range: b-gpt2 has layers 0–1", message(() -> explorer.checkLayer("b-gpt2", 2)));
        assertEquals("head 4 is out of range: b-gpt2 has heads 0–3 in every layer", message(() -> explorer.checkHead("b-gpt2", 4)));
        assertEquals(-1, explorer.checkHead("b-gpt2", null));
        assertEquals(2, explorer.checkPosition(new int[3], -1));
        assertTrue(message(() -> explorer.checkPosition(new int[3], 3)).contains("positions 0–2"));
        assertTrue(message(() -> explorer.detectors("b-gpt2", 12, 1, 0L)).contains("2–11"));
    }

    @Test
    void aRepeatedRequestIsAHitWithTheSameResult() {
        var first = explorer.dla("b-gpt2", "The cat sat", null, "·mat", "·dog");
        var second = explorer.dla("b-gpt2", "The cat sat", null, "·mat", "·dog");
        assertFalse(first.cached());
        assertTrue(second.cached());
        assertEquals(first.key(), second.key());
        assertEquals(first.result().total(), second.result().total());
        assertEquals(first.result().logitDiff(), first.result().total(), 1e-4);
        // the REST form of the same query is the same cached result, as JSON
        var json = explorer.json(explorer.dlaQuery("b-gpt2", "The cat sat", null, "·mat", "·dog"));
        assertTrue(json.cached());
        assertTrue(new String(json.json(), java.nio.charset.StandardCharsets.UTF_8).startsWith("{\"model\":\"b-gpt2\",\"cached\":true,"));
    }

    @Test
    void aStoredComparisonOpensOnlyOnItsOwnModel() {
        var a = explorer.answer(explorer.compareQuery("a-tiny", List.of("the cat sat", "a dog ran"), "loss", null, null));
        var mine = explorer.storedComparison("a-tiny", a.key()).orElseThrow();
        assertEquals(a.result().rows().get(1).value(), mine.rows().get(1).value());
        // another model's id: a message naming both, not that model's rows under this model's name
        String m = message(() -> explorer.storedComparison("b-gpt2", a.key()));
        assertTrue(m.contains("of model 'a-tiny', not of b-gpt2"), m);
        // an id nobody stored: empty (the page says it may have been evicted)
        assertTrue(explorer.storedComparison("b-gpt2", "0".repeat(64)).isEmpty());
        // a result of another analysis is not a comparison
        var dla = explorer.dla("a-tiny", "the cat sat", null, "mat", "dog");
        assertTrue(explorer.storedComparison("a-tiny", dla.key()).isEmpty());
    }

    @Test
    void concurrentFirstRequestsLoadAModelOnce() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(6);
        try {
            Set<Object> seen = ConcurrentHashMap.newKeySet();
            List<Future<?>> fs = new java.util.ArrayList<>();
            for (int i = 0; i < 12; i++) fs.add(pool.submit(() -> seen.add(engines.get("a-tiny").subject())));
            for (Future<?> f : fs) f.get();
            assertEquals(1, seen.size());
            assertSame(engines.get("a-tiny"), engines.get("a-tiny"));
        } finally {
            pool.shutdown();
        }
    }
}
