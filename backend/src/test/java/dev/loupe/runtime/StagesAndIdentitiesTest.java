package dev.loupe.runtime;

import dev.loupe.compiler.GraphCompiler;
import dev.loupe.hooks.HookPoints;
import dev.loupe.model.GptConfig;
import dev.loupe.model.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static dev.loupe.runtime.EngineForwardTest.assertClose;
import static org.junit.jupiter.api.Assertions.*;

/** Start/stop at a layer, the identities of DESIGN §3, variants, fused graphs, concurrency, input errors. */
class StagesAndIdentitiesTest {

    static List<String> fixtures() { return Fixture.FILES; }

    @ParameterizedTest
    @MethodSource("fixtures")
    void identitiesHold(String name) {
        Fixture f = Fixture.load(name);
        GptConfig c = f.config();
        try (Engine e = Engine.create(f.weights())) {
            RunResult r = e.run(RunRequest.of(f.prompts().get(0)).cacheAll());
            int n = f.prompts().get(0).length, d = c.dModel();
            Tensor embedPlusPos = r.get("hook_embed").copy();
            for (int i = 0; i < embedPlusPos.size(); i++) embedPlusPos.data()[i] += r.get("hook_pos_embed").data()[i];
            assertClose(embedPlusPos, r.get("blocks.0.hook_resid_pre"), 1e-6f, "resid_pre[0] = embed + pos_embed");
            for (int l = 0; l < c.nLayers(); l++) {
                String p = "blocks." + l + ".";
                if (l + 1 < c.nLayers())
                    assertClose(r.get(p + "hook_resid_post"), r.get("blocks." + (l + 1) + ".hook_resid_pre"), 0f, "resid_post[l] == resid_pre[l+1]");
                Tensor sum = Tensor.zeros(1, n, d), result = r.get(p + "attn.hook_result");
                Tensor bO = f.weights().layer(l, "attn.c_proj.bias");
                for (int t = 0; t < n; t++)
                    for (int i = 0; i < d; i++) {
                        float s = bO.get(i);
                        for (int h = 0; h < c.nHeads(); h++) s += result.get(0, t, h, i);
                        sum.set(s, 0, t, i);
                    }
                assertClose(r.get(p + "hook_attn_out"), sum, 1e-5f, "Σ_h result + b_O == attn_out");
                Tensor mid = plus(r.get(p + "hook_resid_pre"), r.get(p + "hook_attn_out"));
                if (c.attnOnly()) assertClose(mid, r.get(p + "hook_resid_post"), 1e-5f, "resid_post = resid_pre + attn_out");
                else {
                    assertClose(mid, r.get(p + "hook_resid_mid"), 1e-5f, "resid_mid = resid_pre + attn_out");
                    assertClose(plus(mid, r.get(p + "hook_mlp_out")), r.get(p + "hook_resid_post"), 1e-5f, "resid_post = resid_mid + mlp_out");
                }
            }
            Tensor norm = r.get("ln_final.hook_normalized"), wte = f.weights().get("wte.weight");
            Tensor logits = Tensor.zeros(1, n, c.dVocab());
            for (int t = 0; t < n; t++)
                for (int v = 0; v < c.dVocab(); v++) {
                    double s = 0;
                    for (int i = 0; i < d; i++) s += norm.get(0, t, i) * wte.get(v, i);
                    logits.set((float) s, 0, t, v);
                }
            assertClose(logits, r.logits(), 1e-4f, "logits == ln_final.hook_normalized · W_Eᵀ");
        }
    }

    private static Tensor plus(Tensor a, Tensor b) {
        Tensor o = a.copy();
        for (int i = 0; i < o.size(); i++) o.data()[i] += b.data()[i];
        return o;
    }

    @Test
    void startAndStopAtEveryLayerEqualTheFullRun() {
        Fixture f = Fixture.load("odd_3l");
        int[] tokens = f.prompts().get(1);
        try (Engine e = Engine.create(f.weights())) {
            RunResult full = e.run(RunRequest.of(tokens).cacheAll());
            for (int l = 0; l < f.config().nLayers(); l++) {
                RunResult stopped = e.run(RunRequest.of(tokens).cacheAll().stopAfter(l));
                assertNull(stopped.logits());
                assertClose(full.get(HookPoints.name(l, "hook_resid_post")), stopped.residual(), 0f, "residual after layer " + l);
                assertFalse(stopped.has("ln_final.hook_scale"));
                if (l + 1 < f.config().nLayers()) assertFalse(stopped.has(HookPoints.name(l + 1, "hook_resid_pre")));
                for (var h : stopped.cache().entrySet()) assertClose(full.get(h.getKey()), h.getValue(), 0f, h.getKey());

                RunResult started = e.run(RunRequest.fromResidual(l, full.get(HookPoints.name(l, "hook_resid_pre"))).cacheAll());
                assertClose(full.logits(), started.logits(), 0f, "logits from layer " + l);
                assertFalse(started.has("hook_embed"));
                for (var h : started.cache().entrySet()) assertClose(full.get(h.getKey()), h.getValue(), 0f, h.getKey());
            }
            RunResult fromEnd = e.run(RunRequest.fromResidual(f.config().nLayers(), full.get("blocks.2.hook_resid_post")));
            assertClose(full.logits(), fromEnd.logits(), 0f, "logits from the last residual");
            RunResult middle = e.run(RunRequest.fromResidual(1, full.get("blocks.1.hook_resid_pre")).stopAfter(1));
            // a graph without hook outputs may fuse differently: equal up to float rounding
            assertClose(full.get("blocks.1.hook_resid_post"), middle.residual(), 1e-5f, "one block alone");
        }
    }

    @Test
    void fusedAndBakedGraphsMatchPerStageGraphs() {
        Fixture f = Fixture.load("f16_1l");
        int[] tokens = f.prompts().get(1);
        try (Engine staged = Engine.create(f.weights());
             Engine fused = Engine.create(f.weights(), EngineOptions.defaults().withFused(true));
             Engine baked = Engine.create(f.weights(), EngineOptions.defaults().withWeightMode(GraphCompiler.WeightMode.BAKED))) {
            RunResult a = staged.run(RunRequest.of(tokens).cacheAll());
            for (Engine other : List.of(fused, baked)) {
                RunResult b = other.run(RunRequest.of(tokens).cacheAll().patch(Patch.zero("blocks.0.attn.hook_z", Selector.heads(1))));
                RunResult b0 = other.run(RunRequest.of(tokens).cacheAll());
                assertClose(a.logits(), b0.logits(), 1e-5f, "logits");
                for (var h : a.cache().entrySet()) assertClose(h.getValue(), b0.get(h.getKey()), 1e-5f, h.getKey());
                assertTrue(a.logits().maxAbsDiff(b.logits()) > 1e-4f, "patch takes effect");
            }
        }
    }

    @Test
    void fusedGraphOfSeveralLayersReturnsEveryHook() {
        Fixture f = Fixture.load("odd_3l");
        try (Engine fused = Engine.create(f.weights(), EngineOptions.defaults().withFused(true))) {
            RunResult r = fused.run(RunRequest.of(f.prompts().get(1)).cacheAll());
            FixtureTest.assertMatches(f.expected().get(1), r, "fused odd_3l");
            RunResult mid = fused.run(RunRequest.fromResidual(1, r.get("blocks.1.hook_resid_pre")).stopAfter(2).cacheRegex("resid"));
            assertClose(r.get("blocks.2.hook_resid_post"), mid.residual(), 1e-5f, "fused middle range");
        }
    }

    @Test
    void variantsAreCompiledOnceAndEvictedWhenIdle() {
        Fixture f = Fixture.load("attnonly_2l");
        int[] tokens = f.prompts().get(0);
        try (Engine e = Engine.create(f.weights(), EngineOptions.defaults().withMaxSessions(4))) {
            RunResult first = e.run(RunRequest.of(tokens).cacheRegex("hook_pattern"));
            assertEquals(4, e.compiledVariants(), "embed, two blocks with pattern outputs, unembed");
            e.run(RunRequest.of(tokens).cacheRegex("hook_pattern"));
            assertEquals(4, e.compiledVariants(), "same request, no new graphs");
            assertEquals(List.of("blocks.0.attn.hook_pattern", "blocks.1.attn.hook_pattern"), List.copyOf(first.cache().keySet()));
            RunResult plain = e.run(RunRequest.of(tokens));
            assertEquals(6, e.compiledVariants(), "plain blocks are new; embed and unembed are shared");
            RunResult again = e.run(RunRequest.of(tokens).cacheRegex("hook_pattern"));
            assertEquals(8, e.compiledVariants(), "the least recently used pattern variants were evicted");
            assertClose(first.logits(), again.logits(), 0f, "after eviction and recompilation");
            assertClose(first.logits(), plain.logits(), 1e-5f, "with and without hooks");
        }
    }

    @Test
    void concurrentCallersGetTheirOwnResults() throws Exception {
        Fixture f = Fixture.load("odd_3l");
        try (Engine e = Engine.create(f.weights()); ExecutorService pool = Executors.newFixedThreadPool(4)) {
            List<Future<RunResult>> futures = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                int[] tokens = f.prompts().get(i % 3);
                boolean patch = i % 2 == 0;
                futures.add(pool.submit(() -> {
                    RunRequest r = RunRequest.of(tokens).cacheRegex("resid_post");
                    if (patch) r.patch(Patch.zero("blocks.1.hook_attn_out", Selector.all()));
                    return e.run(r);
                }));
            }
            for (int i = 0; i < 12; i++) {
                RunRequest r = RunRequest.of(f.prompts().get(i % 3)).cacheRegex("resid_post");
                if (i % 2 == 0) r.patch(Patch.zero("blocks.1.hook_attn_out", Selector.all()));
                RunResult serial = e.run(r), parallel = futures.get(i).get();
                assertClose(serial.logits(), parallel.logits(), 0f, "run " + i);
            }
        }
    }

    @Test
    void badInputsAreRejectedWithClearMessages() {
        Fixture f = Fixture.load("f16_1l");
        try (Engine e = Engine.create(f.weights())) {
            var tooLong = assertThrows(IllegalArgumentException.class, () -> e.run(RunRequest.of(new int[17])));
            assertTrue(tooLong.getMessage().contains("longer than the context of 16"), tooLong.getMessage());
            var badId = assertThrows(IllegalArgumentException.class, () -> e.run(RunRequest.of(new int[]{1, 50})));
            assertTrue(badId.getMessage().contains("token id 50"), badId.getMessage());
            var empty = assertThrows(IllegalArgumentException.class, () -> e.run(RunRequest.of(new int[0])));
            assertTrue(empty.getMessage().contains("empty"), empty.getMessage());
            assertThrows(IllegalArgumentException.class, () -> e.run(RunRequest.of(new int[]{1}).stopAfter(1)));
        }
    }
}
