package dev.loupe.runtime;

import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.model.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static dev.loupe.runtime.EngineForwardTest.assertClose;
import static org.junit.jupiter.api.Assertions.*;

/** Patches checked against expectations computed from unpatched runs. */
class PatchTest {
    static Fixture model;
    static Engine engine;
    static GptConfig c;
    static final int[] A = {299, 17, 0, 42, 42, 7, 100, 3};
    static final int[] B = {299, 5, 250, 8, 13, 77, 1, 64};
    static RunResult cleanA, cleanB;

    @BeforeAll
    static void setUp() {
        model = Fixture.load("odd_3l");
        c = model.config();
        engine = Engine.create(model.weights());
        cleanA = engine.run(RunRequest.of(A).cacheAll());
        cleanB = engine.run(RunRequest.of(B).cacheAll());
    }

    @AfterAll
    static void tearDown() { engine.close(); }

    static RunResult runA(Patch... patches) { return engine.run(RunRequest.of(A).cacheAll().patch(patches)); }

    @Test
    void patchingAHookWithItsOwnCleanValueChangesNothing() {
        for (String hook : new String[]{"hook_embed", "hook_pos_embed", "blocks.0.hook_resid_pre", "blocks.0.ln1.hook_scale",
                "blocks.1.attn.hook_pattern", "blocks.1.attn.hook_attn_scores", "blocks.2.attn.hook_result", "blocks.1.mlp.hook_post",
                "blocks.2.ln2.hook_normalized", "ln_final.hook_scale", "blocks.2.hook_resid_post"}) {
            RunResult r = runA(Patch.of(hook, Selector.all(), cleanA.get(hook)));
            assertClose(cleanA.logits(), r.logits(), 2e-5f, "logits after self-patching " + hook);
        }
    }

    @Test
    void zeroingAHeadRemovesExactlyItsResult() {
        RunResult r = runA(Patch.zero("blocks.1.attn.hook_z", Selector.heads(1)));
        Tensor z = r.get("blocks.1.attn.hook_z");
        for (int p = 0; p < A.length; p++)
            for (int e = 0; e < c.dHead(); e++) {
                assertEquals(0f, z.get(0, p, 1, e));
                assertEquals(cleanA.get("blocks.1.attn.hook_z").get(0, p, 0, e), z.get(0, p, 0, e), 1e-6f);
            }
        // attn_out loses head 1's result, nothing else
        Tensor expected = cleanA.get("blocks.1.hook_attn_out").copy();
        Tensor result = cleanA.get("blocks.1.attn.hook_result");
        for (int p = 0; p < A.length; p++)
            for (int i = 0; i < c.dModel(); i++) expected.set(expected.get(0, p, i) - result.get(0, p, 1, i), 0, p, i);
        assertClose(expected, r.get("blocks.1.hook_attn_out"), 1e-5f, "attn_out without head 1");
        // upstream untouched, downstream as if run from the patched residual
        assertClose(cleanA.get("blocks.1.hook_resid_pre"), r.get("blocks.1.hook_resid_pre"), 0f, "resid_pre before the patch");
        RunResult fromResid = engine.run(RunRequest.fromResidual(2, r.get("blocks.2.hook_resid_pre")).cacheAll());
        assertClose(fromResid.logits(), r.logits(), 1e-5f, "logits vs a run from the patched residual");
    }

    @Test
    void neuronFromAnotherRun() {
        String hook = "blocks.1.mlp.hook_post";
        RunResult r = runA(Patch.of(hook, Selector.neurons(5), cleanB.get(hook)));
        Tensor post = r.get(hook), a = cleanA.get(hook), b = cleanB.get(hook);
        for (int p = 0; p < A.length; p++)
            for (int n = 0; n < c.dMlp(); n++) assertEquals((n == 5 ? b : a).get(0, p, n), post.get(0, p, n), 1e-6f);
        // mlp_out moves along row 5 of W_out by the change of neuron 5
        Tensor wOut = model.weights().layer(1, "mlp.c_proj.weight");
        Tensor expected = cleanA.get("blocks.1.hook_mlp_out").copy();
        for (int p = 0; p < A.length; p++) {
            float delta = b.get(0, p, 5) - a.get(0, p, 5);
            for (int i = 0; i < c.dModel(); i++) expected.set(expected.get(0, p, i) + delta * wOut.get(5, i), 0, p, i);
        }
        assertClose(expected, r.get("blocks.1.hook_mlp_out"), 1e-5f, "mlp_out");
    }

    @Test
    void residualPositionPatchEqualsRunningFromThePatchedResidual() {
        String hook = "blocks.1.hook_resid_pre";
        RunResult r = runA(Patch.of(hook, Selector.positions(3), cleanB.get(hook)));
        Tensor patched = cleanA.get(hook).copy();
        for (int i = 0; i < c.dModel(); i++) patched.set(cleanB.get(hook).get(0, 3, i), 0, 3, i);
        RunResult expected = engine.run(RunRequest.fromResidual(1, patched).cacheAll());
        assertClose(expected.logits(), r.logits(), 1e-5f, "logits");
        assertClose(expected.get("blocks.2.attn.hook_pattern"), r.get("blocks.2.attn.hook_pattern"), 1e-6f, "pattern");
        // causality: earlier positions cannot see the patch
        Tensor before = cleanA.logits().crop(1, 3), after = r.logits().crop(1, 3);
        assertClose(before, after, 1e-6f, "logits before position 3");
        assertTrue(cleanA.logits().maxAbsDiff(r.logits()) > 1e-3f, "the patch changes later logits");
    }

    @Test
    void patchOnlyTouchesItsBatchRows() {
        RunResult batch = engine.run(RunRequest.of(A, B).cacheAll()
                .patch(Patch.zero("blocks.0.attn.hook_z", Selector.rows(1).withHeads(0))));
        assertClose(cleanA.logits(), batch.prompt(0).logits(), 1e-5f, "unpatched row");
        RunResult bZero = engine.run(RunRequest.of(B).patch(Patch.zero("blocks.0.attn.hook_z", Selector.heads(0))));
        assertClose(bZero.logits(), batch.prompt(1).logits(), 1e-5f, "patched row");
        assertTrue(cleanB.logits().maxAbsDiff(bZero.logits()) > 1e-3f);
    }

    @Test
    void severalHooksInOneRun() {
        Patch head = Patch.zero("blocks.0.attn.hook_z", Selector.heads(2));
        Patch neuron = Patch.of("blocks.2.mlp.hook_pre", Selector.neurons(7, 9).withPositions(4, 5), Tensor.scalar(3f));
        RunResult both = runA(head, neuron);
        RunResult first = runA(head);
        RunResult second = engine.run(RunRequest.fromResidual(2, first.get("blocks.2.hook_resid_pre")).cacheAll().patch(neuron));
        assertClose(second.logits(), both.logits(), 1e-5f, "two patches = one after the other");
        assertEquals(3f, both.get("blocks.2.mlp.hook_pre").get(0, 4, 9));
        assertNotEquals(3f, both.get("blocks.2.mlp.hook_pre").get(0, 3, 9));
    }

    @Test
    void scalePatchRescalesTheNormalisedStream() {
        String scale = "blocks.1.ln2.hook_scale", norm = "blocks.1.ln2.hook_normalized";
        Tensor doubled = cleanA.get(scale).copy();
        for (int i = 0; i < doubled.size(); i++) doubled.data()[i] *= 2;
        RunResult r = runA(Patch.of(scale, Selector.all(), doubled));
        Tensor bias = model.weights().layer(1, "ln_2.bias");
        Tensor expected = cleanA.get(norm).copy();
        for (int p = 0; p < A.length; p++)
            for (int i = 0; i < c.dModel(); i++)
                expected.set((cleanA.get(norm).get(0, p, i) - bias.get(i)) / 2 + bias.get(i), 0, p, i);
        assertClose(expected, r.get(norm), 1e-5f, "normalized with doubled scale");
        assertClose(doubled, r.get(scale), 0f, "the scale hook shows the patched value");
    }

    @Test
    void uniformAttentionPatternAveragesValues() {
        String pattern = "blocks.0.attn.hook_pattern";
        Tensor uniform = Tensor.zeros(1, c.nHeads(), A.length, A.length);
        for (int q = 0; q < A.length; q++) for (int k = 0; k <= q; k++) uniform.set(1f / (q + 1), 0, 0, q, k);
        RunResult r = runA(Patch.of(pattern, Selector.heads(0), uniform));
        Tensor v = cleanA.get("blocks.0.attn.hook_v"), z = r.get("blocks.0.attn.hook_z");
        for (int q = 0; q < A.length; q++)
            for (int e = 0; e < c.dHead(); e++) {
                float mean = 0;
                for (int k = 0; k <= q; k++) mean += v.get(0, k, 0, e);
                assertEquals(mean / (q + 1), z.get(0, q, 0, e), 1e-5f);
            }
    }

    @Test
    void meanAblationBroadcasts() {
        String hook = "blocks.0.hook_mlp_out";
        Tensor mean = cleanA.get(hook).meanOver(0, 1); // [1, 1, d_model]
        RunResult r = runA(Patch.of(hook, Selector.positions(2, 6), mean));
        for (int i = 0; i < c.dModel(); i++) {
            assertEquals(mean.get(0, 0, i), r.get(hook).get(0, 6, i), 1e-7f);
            assertEquals(cleanA.get(hook).get(0, 5, i), r.get(hook).get(0, 5, i), 1e-6f);
        }
    }

    @Test
    void badPatchesAreRejectedWithClearMessages() {
        var e1 = assertThrows(IllegalArgumentException.class, () -> runA(Patch.zero("blocks.9.attn.hook_z", Selector.all())));
        assertTrue(e1.getMessage().contains("unknown hook"), e1.getMessage());
        var e2 = assertThrows(IllegalArgumentException.class, () -> runA(Patch.zero("blocks.0.attn.hook_z", Selector.heads(3))));
        assertTrue(e2.getMessage().contains("head index 3"), e2.getMessage());
        var e3 = assertThrows(IllegalArgumentException.class, () -> runA(Patch.of("blocks.0.hook_mlp_out", Selector.all(), Tensor.zeros(2, 3))));
        assertTrue(e3.getMessage().contains("does not broadcast"), e3.getMessage());
        var e4 = assertThrows(IllegalArgumentException.class, () -> engine.run(RunRequest.fromResidual(2, cleanA.get("blocks.2.hook_resid_pre"))
                .patch(Patch.zero("blocks.0.hook_mlp_out", Selector.all()))));
        assertTrue(e4.getMessage().contains("cannot patch blocks.0.hook_mlp_out"), e4.getMessage());
    }
}
