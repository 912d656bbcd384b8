package dev.loupe.runtime;

import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.model.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The compiled graphs against the plain-Java reference, on small random models with non-trivial LayerNorms. */
class EngineForwardTest {
    static final GptConfig CONFIG = new GptConfig(2, 4, 32, 64, 16, 50, false, 1e-5);
    static final GptConfig ATTN_ONLY = new GptConfig(2, 2, 16, 0, 12, 30, true, 1e-5);
    static GptWeights weights, attnOnlyWeights;
    static Engine engine, attnOnly;

    @BeforeAll
    static void setUp() {
        weights = GptWeights.random(CONFIG, 1, true);
        attnOnlyWeights = GptWeights.random(ATTN_ONLY, 2, true);
        engine = Engine.create(weights);
        attnOnly = Engine.create(attnOnlyWeights);
    }

    @AfterAll
    static void tearDown() {
        engine.close();
        attnOnly.close();
    }

    static void assertMatchesReference(GptWeights w, Engine e, int[] tokens) {
        Map<String, Tensor> ref = new ReferenceForward(w).run(tokens);
        RunResult r = e.run(RunRequest.of(tokens).cacheAll());
        assertEquals(ref.size() - 1, r.cache().size(), "every hook is cached");
        assertClose(ref.get("logits"), r.logits(), 1e-4f, "logits");
        for (var entry : r.cache().entrySet())
            assertClose(ref.get(entry.getKey()), entry.getValue(), 1e-4f, entry.getKey());
    }

    static void assertClose(Tensor expected, Tensor actual, float tol, String what) {
        assertNotNull(actual, what + " missing");
        assertArrayEquals(expected.shape(), actual.shape(), what + " shape");
        float diff = expected.maxAbsDiff(actual);
        assertTrue(diff <= tol, what + " differs by " + diff);
    }

    @Test
    void everyHookMatchesTheReference() {
        assertMatchesReference(weights, engine, new int[]{3, 1, 4, 1, 5, 9, 2, 6});
    }

    @Test
    void attentionOnlyModelMatchesTheReference() {
        assertMatchesReference(attnOnlyWeights, attnOnly, new int[]{0, 7, 7, 29, 1});
        assertFalse(attnOnly.hooks().contains("blocks.0.hook_resid_mid"));
    }

    @Test
    void singleTokenPromptWorks() {
        assertMatchesReference(weights, engine, new int[]{42});
    }
}
