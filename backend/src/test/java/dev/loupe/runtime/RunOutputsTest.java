package dev.loupe.runtime;

import dev.loupe.model.Tensor;
import org.junit.jupiter.api.Test;

import static dev.loupe.runtime.EngineForwardTest.assertClose;
import static org.junit.jupiter.api.Assertions.*;

/** Outputs stay native until read; closing frees them; the engine spills old results beyond its limit. */
class RunOutputsTest {
    @Test
    void tensorsReadBeforeCloseStayValidAndUnreadOnesAreGone() {
        Fixture f = Fixture.load("odd_3l");
        try (Engine e = Engine.create(f.weights())) {
            RunResult r = e.run(RunRequest.of(f.prompts().get(1)).cacheAll());
            Tensor pattern = r.get("blocks.0.attn.hook_pattern");
            Tensor logits = r.logits();
            r.close();
            assertEquals(pattern, r.get("blocks.0.attn.hook_pattern"), "read tensors are kept");
            assertClose(f.expected().get(1).get("logits"), logits, 1e-4f, "logits after close");
            var ex = assertThrows(IllegalStateException.class, () -> r.get("blocks.1.attn.hook_pattern"));
            assertTrue(ex.getMessage().contains("not read before its run result was closed"), ex.getMessage());
            r.close(); // twice is harmless
        }
    }

    @Test
    void oldResultsAreSpilledToTheHeapBeyondTheLimit() {
        Fixture f = Fixture.load("odd_3l");
        try (Engine e = Engine.create(f.weights(), EngineOptions.defaults().withMaxUnread(1))) {
            RunResult first = e.run(RunRequest.of(f.prompts().get(0)).cacheAll());
            RunResult second = e.run(RunRequest.of(f.prompts().get(1)).cacheAll()); // spills the first
            second.close();
            for (var h : f.expected().get(0).entrySet()) {
                Tensor actual = h.getKey().equals("logits") ? first.logits() : first.get(h.getKey());
                assertTrue(h.getValue().maxAbsDiff(actual) <= 1e-4f, h.getKey());
            }
        }
    }
}
