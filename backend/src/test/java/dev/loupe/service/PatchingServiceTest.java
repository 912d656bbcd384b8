package dev.loupe.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.api.ApiException;
import dev.loupe.jobs.Progress;
import dev.loupe.model.GptConfig;
import dev.loupe.patching.ActivationPatching;
import dev.loupe.patching.PatchMetric;
import dev.loupe.patching.PatchMode;
import dev.loupe.patching.PromptPair;
import dev.loupe.patching.Sweep;
import dev.loupe.store.ResultCache;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;

/** The patching service without Quarkus: every bad request is a 400 naming it before anything runs; results are cached by id. */
class PatchingServiceTest {
    static ModelEngines engines;
    static Explorer explorer;
    static PatchingService patching;
    static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void setUp() throws Exception {
        Path dir = Files.createTempDirectory("loupe-patching-test");
        Path models = Files.createDirectories(dir.resolve("models"));
        ExplorerServiceTest.writeModel(models.resolve("b-gpt2"), "b-gpt2", new GptConfig(2, 4, 32, 64, 24, 50257), false, "{\"type\":\"gpt2\"}");
        engines = new ModelEngines(new ModelCatalog(models.toString()));
        JdbcDataSource ds = new JdbcDataSource();
        ds.setURL("jdbc:h2:file:" + dir.resolve("data/loupe") + ";AUTO_SERVER=FALSE");
        String sql = Files.readString(Path.of("src/main/resources/db/migration/V1__result_cache_and_jobs.sql"));
        try (Connection c = ds.getConnection(); var st = c.createStatement()) {
            for (String stmt : sql.replaceAll("(?m)^--.*$", "").split(";")) if (!stmt.isBlank()) st.execute(stmt);
        }
        ResultCache cache = new ResultCache(ds);
        explorer = new Explorer(new ModelCatalog(models.toString()), engines, cache,
                new ComputeScheduler(new ComputeScheduler.Limits(2, 16, java.time.Duration.ofSeconds(30), 1L << 30, 8)), Optional.empty());
        patching = new PatchingService(explorer, engines, cache, 200);
    }

    @AfterAll
    static void tearDown() {
        patching.close();
        engines.close();
    }

    static PatchingService.Request req(String clean, String corrupt, String metric, Integer pos, String a, String b, String sweep) {
        return new PatchingService.Request(clean, corrupt, null, null, null, metric, pos, a, b, sweep, null, true, null, null, null, null, null);
    }

    static String message(PatchingService.Request r) {
        ApiException e = assertThrows(ApiException.class, () -> patching.prepare("b-gpt2", r));
        assertEquals(400, e.status().getStatusCode());
        return e.getMessage();
    }

    @Test
    void badRequestsAre400sNamingTheProblem() {
        String m = message(req("The cat sat on the mat", "The dog sat", "logit_diff", null, null, null, "resid_pre"));
        assertTrue(m.contains("7 tokens") && m.contains("4 tokens"), m);
        m = message(req("The cat sat", "The dog sat", "logit_diff", 9, null, null, "resid_pre"));
        assertTrue(m.contains("position 9"), m);
        m = message(req("The cat sat", "The dog sat", "logit_diff", -1, "·Parisxyz", "·dog", "resid_pre"));
        assertTrue(m.contains("unknown token"), m);
        m = message(req("The cat sat", "The dog sat", "logit_diff", -1, null, null, "head_zz"));
        assertTrue(m.contains("unknown sweep 'head_zz'"), m);
        m = message(req("The cat sat", "The dog sat", "logit_diff", -1, null, null, "neurons:1")); // 4 × 64 rows > 200
        assertTrue(m.contains("over the limit of 200"), m);
        m = message(new PatchingService.Request(null, null, List.of(50256, 1), List.of(50256, 60000), null, "kl", null, null, null, "resid_pre", null, false, null, null, null, null, null));
        assertTrue(m.contains("unknown token id 60000"), m);
    }

    @Test
    void aResultIsCachedUnderAStableIdAndMatchesTheCore() throws Exception {
        PatchingService.Request r = req("The cat sat", "The dog sat", "logit_diff", -1, "·mat", "·on", "head_out_by_pos");
        var first = patching.run(patching.prepare("b-gpt2", r));
        var again = patching.run(patching.prepare("b-gpt2", r));
        assertFalse(first.cached());
        assertTrue(again.cached());
        assertEquals(first.key(), again.key());
        JsonNode stored = JSON.readTree(patching.find(first.key()).orElseThrow());
        JsonNode answered = JSON.readTree(first.json()).get("result");
        assertEquals(answered, stored);
        assertEquals(List.of("layer", "pos", "head"), JSON.convertValue(stored.get("axes"), List.class));

        var s = explorer.subject("b-gpt2");
        int[] clean = explorer.tokenize("b-gpt2", "The cat sat"), corrupt = explorer.tokenize("b-gpt2", "The dog sat");
        int a = explorer.token("b-gpt2", "·mat", "a"), b = explorer.token("b-gpt2", "·on", "b");
        var direct = ActivationPatching.prepare(s.engine(), List.of(new PromptPair(clean, corrupt)), PatchMetric.parse("logit_diff:-1:" + a + ":" + b),
                Sweep.parse("head_out_by_pos", s.config()), PatchMode.DENOISE).sweep(0, Progress.NONE);
        assertEquals(direct.cleanMetric(), stored.get("cleanMetric").asDouble(), 1e-6);
        JsonNode cell = stored.get("values").get(1).get(2).get(3);
        assertEquals(direct.values()[(1 * 4 + 2) * 4 + 3], cell.floatValue(), 1e-6);
        assertEquals("·dog", stored.get("corruptTokens").get(2).get("token").asText());
        assertTrue(stored.get("attributionCorrelation").isNumber());
        assertTrue(patching.find("0".repeat(64)).isEmpty());
    }

    static PatchingService.Request dataset(JsonNode data, String task, Integer pairs, String sweep) {
        return new PatchingService.Request(null, null, null, null, null, "logit_diff", null, null, null, sweep, null, true, data, task, pairs, null, null);
    }

    @Test
    void datasetsPanelsAndPathSweepsRunAndNameBadPairs() throws Exception {
        // a built-in task: the mean over its pairs, each with its own answer and wrong token, as the core computes it
        JsonNode t = JSON.readTree(patching.run(patching.prepare("b-gpt2", dataset(null, "agreement", 12, "resid_pre"))).json()).get("result");
        int pairs = t.get("pairs").asInt();
        assertTrue(pairs >= 6 && pairs <= 12, t.toString());
        assertEquals("task agreement", t.get("dataset").asText());
        assertEquals("logit_diff:-1:answer:wrong", t.get("metric").asText());
        var s = explorer.subject("b-gpt2");
        var data = dev.loupe.circuits.CircuitTasks.generate("agreement", explorer.tokenizer("b-gpt2"), s.config(), 12, 1);
        List<PromptPair> pp = new java.util.ArrayList<>();
        List<PatchMetric> ms = new java.util.ArrayList<>();
        int len = t.get("shape").get(1).asInt();
        for (var p : data.pairs()) if (p.length() == len) {
            pp.add(new PromptPair(p.clean(), p.corrupt()));
            ms.add(PatchMetric.parse("logit_diff:-1:" + p.answer() + ":" + p.wrong()));
        }
        assertEquals(pairs, pp.size());
        var direct = ActivationPatching.prepare(s.engine(), pp, ms, Sweep.parse("resid_pre", s.config()), PatchMode.DENOISE).sweep(0, Progress.NONE);
        assertEquals(direct.values()[len + 1], t.get("values").get(1).get(1).floatValue(), 1e-6);

        // an uploaded dataset: a bad pair is named
        String m = message(dataset(JSON.readTree("{\"prompts\":[{\"clean\":\"The boys\",\"corrupt\":\"The boy\",\"answer\":\" were\",\"wrong\":\" was\"},"
                + "{\"clean\":\"The old men\",\"corrupt\":\"The man\",\"answer\":\" were\",\"wrong\":\" was\"}]}"), null, null, "resid_pre"));
        assertTrue(m.contains("pair 1") && m.contains("4 and 3"), m);
        m = message(new PatchingService.Request("The cat", "The dog", null, null, null, "logit_diff", null, null, null, "resid_pre", null, true, null, "agreement", 4, null, null));
        assertTrue(m.contains("not both"), m);

        // a panel stacks its sweeps; path patching has no attribution estimate
        JsonNode panel = JSON.readTree(patching.run(patching.prepare("b-gpt2", req("The cat sat", "The dog sat", "logit_diff", -1, null, null, "every_block"))).json()).get("result");
        assertEquals(List.of(3, 2, 4), JSON.convertValue(panel.get("shape"), List.class));
        assertEquals(List.of("resid_pre", "attn_out", "mlp_out"), JSON.convertValue(panel.get("components"), List.class));
        JsonNode path = JSON.readTree(patching.run(patching.prepare("b-gpt2", req("The cat sat", "The dog sat", "logit_diff", -1, null, null, "path:v:1.2"))).json()).get("result");
        assertEquals(List.of("layer", "head"), JSON.convertValue(path.get("axes"), List.class));
        assertTrue(path.get("attribution").isNull());
        m = message(req("The cat sat", "The dog sat", "logit_diff", -1, null, null, "path:q:1.7"));
        assertTrue(m.contains("1.7"), m);
    }

    static PatchingService.Request meanOver(String text, String direction, String sweep) {
        return new PatchingService.Request("The cat sat", "The dog sat", null, null, null, "logit_diff", -1, "·mat", "·on", sweep, direction, true,
                null, null, null, null, text);
    }

    @Test
    void theMeanOverATextIsTheCoresAndBadTextsAre400s() throws Exception {
        String text = "A longer text, of more tokens than either prompt has.";
        JsonNode r = JSON.readTree(patching.run(patching.prepare("b-gpt2", meanOver(text, "mean", "resid_pre"))).json()).get("result");
        var s = explorer.subject("b-gpt2");
        int[] clean = explorer.tokenize("b-gpt2", "The cat sat"), corrupt = explorer.tokenize("b-gpt2", "The dog sat"), ids = explorer.tokenize("b-gpt2", text);
        assertEquals(ids.length, r.get("meanTextTokens").asInt());
        int a = explorer.token("b-gpt2", "·mat", "a"), b = explorer.token("b-gpt2", "·on", "b");
        var direct = ActivationPatching.prepare(s.engine(), List.of(new PromptPair(clean, corrupt)), List.of(PatchMetric.parse("logit_diff:-1:" + a + ":" + b)),
                Sweep.parse("resid_pre", s.config()), PatchMode.MEAN, ids).sweep(0, Progress.NONE);
        var overPairs = ActivationPatching.prepare(s.engine(), List.of(new PromptPair(clean, corrupt)), PatchMetric.parse("logit_diff:-1:" + a + ":" + b),
                Sweep.parse("resid_pre", s.config()), PatchMode.MEAN).sweep(0, Progress.NONE);
        assertEquals(direct.values()[5], r.get("values").get(1).get(1).floatValue(), 1e-6);
        assertNotEquals(overPairs.values()[5], direct.values()[5], 1e-6); // the text's mean is another mean
        // a different text is a different result
        var other = patching.prepare("b-gpt2", meanOver("Another text.", "mean", "resid_pre"));
        assertNotEquals(patching.id(patching.prepare("b-gpt2", meanOver(text, "mean", "resid_pre"))), patching.id(other));

        String m = message(meanOver("", "mean", "resid_pre"));
        assertTrue(m.contains("mean text is empty"), m);
        m = message(meanOver("   ", "mean", "resid_pre"));
        assertTrue(m.contains("mean text is empty"), m);
        m = message(meanOver("word ".repeat(40), "mean", "resid_pre")); // the context is 24
        assertTrue(m.startsWith("the mean text is 42 tokens") && m.contains("context"), m); // with BOS
        m = message(meanOver(text, "zero", "resid_pre"));
        assertTrue(m.contains("only by the mean ablation"), m);
        m = message(meanOver(text, "mean", "head_pattern"));
        assertTrue(m.contains("attention patterns"), m);
    }
}
