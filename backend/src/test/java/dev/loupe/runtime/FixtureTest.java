package dev.loupe.runtime;

import dev.loupe.model.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Every hook and the logits of every fixture model against the PyTorch reference, within 1e-4. */
class FixtureTest {
    static final float TOL = 1e-4f;

    static List<String> fixtures() { return Fixture.FILES; }

    @ParameterizedTest
    @MethodSource("fixtures")
    void promptsOneByOne(String name) {
        Fixture f = Fixture.load(name);
        try (Engine e = Engine.create(f.weights())) {
            for (int i = 0; i < f.prompts().size(); i++) {
                RunResult r = e.run(RunRequest.of(f.prompts().get(i)).cacheAll());
                assertMatches(f.expected().get(i), r, name + " prompt " + i);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("fixtures")
    void promptsAsOnePaddedBatch(String name) {
        Fixture f = Fixture.load(name);
        try (Engine e = Engine.create(f.weights())) {
            RunResult batch = e.run(RunRequest.of(f.prompts()).cacheAll());
            assertEquals(f.prompts().size(), batch.batchSize());
            for (int i = 0; i < f.prompts().size(); i++)
                assertMatches(f.expected().get(i), batch.prompt(i), name + " batch row " + i);
        }
    }

    static void assertMatches(Map<String, Tensor> expected, RunResult r, String what) {
        // the fixture holds exactly the hooks Loupe knows, plus the logits
        assertEquals(expected.size() - 1, r.cache().size(), what + ": hook count");
        for (var e : expected.entrySet()) {
            Tensor actual = e.getKey().equals("logits") ? r.logits() : r.cache().get(e.getKey());
            assertNotNull(actual, what + ": missing " + e.getKey());
            assertArrayEquals(e.getValue().shape(), actual.shape(), what + ": shape of " + e.getKey());
            float diff = e.getValue().maxAbsDiff(actual);
            assertTrue(diff <= TOL, what + ": " + e.getKey() + " differs by " + diff);
        }
    }
}
