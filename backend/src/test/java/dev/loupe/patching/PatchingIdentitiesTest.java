package dev.loupe.patching;

import ai.onnxruntime.OnnxTensor;
import dev.loupe.grad.Backprop;
import dev.loupe.jobs.Cancelled;
import dev.loupe.jobs.Progress;
import dev.loupe.runtime.Engine;
import dev.loupe.runtime.Fixture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/** Exact identities of patching that hold on any model, and the checks that reject bad requests. */
class PatchingIdentitiesTest {
    static Fixture f;
    static Engine engine;
    static final int V = 300;
    // differs at position 2 only
    static final int[] CLEAN = {V - 1, 17, 5, 23, 9, 31, 4}, CORRUPT = {V - 1, 17, 8, 23, 9, 31, 4};
    static final PatchMetric LD = PatchMetric.parse("logit_diff:-1:11:42");

    @BeforeAll
    static void load() {
        f = Fixture.load("odd_3l");
        engine = Engine.create(f.weights());
    }

    @AfterAll
    static void close() { engine.close(); }

    static ActivationPatching prepare(int[] clean, int[] corrupt, String sweep, PatchMode mode) {
        return ActivationPatching.prepare(engine, List.of(new PromptPair(clean, corrupt)), LD, Sweep.parse(sweep, f.config()), mode);
    }

    @Test
    void patchingTheOnlyDifferingPositionAtLayerZeroRestoresTheCleanMetric() {
        PatchingResult r = prepare(CLEAN, CORRUPT, "resid_pre", PatchMode.DENOISE).sweep(0, Progress.NONE);
        int n = CLEAN.length;
        // every other position of resid_pre[0] is already equal in both runs, so this is "patch all positions"
        assertEquals(r.cleanMetric(), r.values()[2], 1e-4);
        assertEquals(1f, r.normalised()[2], 1e-3);
        for (int p = 0; p < n; p++) if (p != 2) assertEquals(r.corruptMetric(), r.values()[p], 1e-4, "position " + p);
        // positions before the difference carry nothing of it at any layer
        for (int l = 0; l < 3; l++) for (int p = 0; p < 2; p++) assertEquals(r.corruptMetric(), r.values()[l * n + p], 1e-4);
        // noising the same site breaks it completely
        PatchingResult noise = prepare(CLEAN, CORRUPT, "resid_pre", PatchMode.NOISE).sweep(0, Progress.NONE);
        assertEquals(noise.corruptMetric(), noise.values()[2], 1e-4);
    }

    @Test
    void aZeroSizePatchHasZeroAttributionAndNoEffect() throws Exception {
        try (Backprop bp = new Backprop(f.config(), 2)) {
            Map<String, OnnxTensor> feeds = bp.weightFeeds(f.weights());
            try {
                for (String s : List.of("resid_pre", "head_out_by_pos", "head_pattern", "neurons:1")) {
                    ActivationPatching p = prepare(CLEAN, CLEAN, s, PatchMode.DENOISE);
                    for (float a : p.attribution(bp, feeds)) assertEquals(0f, a, 0f, s);
                    for (float v : p.sweep(0, Progress.NONE).values()) assertEquals(p.cleanMetric(), v, 1e-4, s);
                }
            } finally {
                feeds.values().forEach(OnnxTensor::close);
            }
        }
    }

    @Test
    void theChunkSizeDoesNotChangeResults() {
        for (String s : List.of("head_v_by_pos", "neurons:2:-2", "resid_post")) {
            ActivationPatching p = prepare(CLEAN, CORRUPT, s, PatchMode.DENOISE);
            float[] one = p.sweep(1, Progress.NONE).values(), big = p.sweep(100_000, Progress.NONE).values(), auto = p.sweep(0, Progress.NONE).values();
            for (int i = 0; i < one.length; i++) {
                assertEquals(one[i], big[i], 1e-5, s + " " + i);
                assertEquals(one[i], auto[i], 1e-5, s + " " + i);
            }
        }
    }

    @Test
    void aCancelledSweepStopsAndProgressReachesOne() {
        ActivationPatching p = prepare(CLEAN, CORRUPT, "head_out_by_pos", PatchMode.DENOISE);
        AtomicInteger reports = new AtomicInteger();
        double[] last = {0};
        p.sweep(5, new Progress() {
            @Override public void report(double fraction, String message) { reports.incrementAndGet(); last[0] = fraction; }
            @Override public boolean cancelled() { return false; }
        });
        assertTrue(reports.get() > 3);
        assertEquals(1.0, last[0], 1e-12);
        assertThrows(Cancelled.class, () -> p.sweep(5, new Progress() {
            @Override public void report(double fraction, String message) { reports.incrementAndGet(); }
            @Override public boolean cancelled() { return reports.get() > 2; }
        }));
    }

    @Test
    void aPanelStacksItsComponentSweeps() {
        List<PromptPair> pair = List.of(new PromptPair(CLEAN, CORRUPT));
        PatchingResult panel = PatchingPanels.run(engine, pair, List.of(LD), "every_head", PatchMode.NOISE, null, 0, Progress.NONE, null, null);
        assertEquals(List.of("component", "layer", "head"), panel.axes());
        assertArrayEquals(new int[]{5, 3, f.config().nHeads()}, panel.shape());
        int at = 0;
        for (String s : Sweep.HEAD_SWEEPS) {
            float[] one = prepare(CLEAN, CORRUPT, s, PatchMode.NOISE).sweep(0, Progress.NONE).values();
            for (float v : one) assertEquals(v, panel.values()[at++], 0f, s);
        }
        assertEquals(panel.values().length, at);
        assertEquals(3L * 3 * CLEAN.length, PatchingPanels.rows("every_block", f.config(), CLEAN.length, 1));
    }

    @Test
    void aDatasetsMetricIsTheMeanOfItsPairsEachWithItsOwnAnswers() {
        int[] c2 = {V - 1, 40, 2, 13, 6, 21, 8}, k2 = {V - 1, 40, 3, 13, 19, 21, 8};
        PatchMetric m2 = PatchMetric.parse("logit_diff:-1:7:5");
        Sweep sweep = Sweep.parse("head_out_by_pos", f.config());
        ActivationPatching both = ActivationPatching.prepare(engine, List.of(new PromptPair(CLEAN, CORRUPT), new PromptPair(c2, k2)),
                List.of(LD, m2), sweep, PatchMode.DENOISE);
        ActivationPatching first = ActivationPatching.prepare(engine, List.of(new PromptPair(CLEAN, CORRUPT)), LD, sweep, PatchMode.DENOISE);
        ActivationPatching second = ActivationPatching.prepare(engine, List.of(new PromptPair(c2, k2)), m2, sweep, PatchMode.DENOISE);
        float[] b = both.sweep(0, Progress.NONE).values(), x = first.sweep(0, Progress.NONE).values(), y = second.sweep(0, Progress.NONE).values();
        for (int i = 0; i < b.length; i++) assertEquals((x[i] + y[i]) / 2, b[i], 1e-4, "index " + i);
        assertEquals((first.cleanMetric() + second.cleanMetric()) / 2, both.cleanMetric(), 1e-5);
        var e = assertThrows(IllegalArgumentException.class, () -> ActivationPatching.check(f.config(),
                List.of(new PromptPair(CLEAN, CORRUPT), new PromptPair(c2, k2)), List.of(LD, PatchMetric.parse("logit_diff:-1:7:" + V)), sweep));
        assertTrue(e.getMessage().contains("(pair 1)"), e.getMessage());
    }

    @Test
    void pathPatchingIdentities() {
        // to the logits, a sender in the last layer reaches them only directly: the same as patching its output
        PatchingResult path = prepare(CLEAN, CORRUPT, "path:logits", PatchMode.DENOISE).sweep(0, Progress.NONE);
        PatchingResult heads = prepare(CLEAN, CORRUPT, "head_out", PatchMode.DENOISE).sweep(0, Progress.NONE);
        int h = f.config().nHeads();
        for (int i = 2 * h; i < 3 * h; i++) assertEquals(heads.values()[i], path.values()[i], 1e-4, "layer-2 head " + (i - 2 * h));
        // senders in or after the receivers' layer change nothing
        PatchingResult q = prepare(CLEAN, CORRUPT, "path:q:1.1", PatchMode.NOISE).sweep(0, Progress.NONE);
        for (int i = h; i < 3 * h; i++) assertEquals(q.cleanMetric(), q.values()[i], 1e-5, "sender " + i);
        var e = assertThrows(IllegalArgumentException.class, () -> Sweep.parse("path:q:0.1", f.config()));
        assertTrue(e.getMessage().contains("layer 0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Sweep.parse("path:q:2.9", f.config()));
        assertTrue(e.getMessage().contains("2.9"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Sweep.parse("path:x:1.1", f.config()));
        assertTrue(e.getMessage().contains("path:logits"), e.getMessage());
    }

    @Test
    void pathPatchingFromMlpsAndWithFrozenMlps() {
        int L = f.config().nLayers();
        // nothing comes after the last MLP: freezing the other MLPs does not change its path to the logits
        PatchingResult mlps = prepare(CLEAN, CORRUPT, "path_mlp:logits", PatchMode.DENOISE).sweep(0, Progress.NONE);
        PatchingResult frozen = prepare(CLEAN, CORRUPT, "path_mlp:logits:frozen", PatchMode.DENOISE).sweep(0, Progress.NONE);
        assertArrayEquals(new int[]{L}, mlps.shape());
        assertEquals(List.of("layer"), mlps.axes());
        assertEquals(mlps.values()[L - 1], frozen.values()[L - 1], 1e-5);
        assertNotEquals(mlps.values()[0], frozen.values()[0], 1e-6); // MLP 0's path through the later MLPs is cut
        // MLPs in or after the receivers' layer change nothing
        PatchingResult q = prepare(CLEAN, CORRUPT, "path_mlp:q:1.1:frozen", PatchMode.NOISE).sweep(0, Progress.NONE);
        for (int l = 1; l < L; l++) assertEquals(q.cleanMetric(), q.values()[l], 1e-5, "sender MLP " + l);
        assertEquals("path_mlp:k:2.0:frozen", Sweep.parse("path_mlp:k:2.0, 2.0:frozen", f.config()).name());
        var attnOnly = Fixture.load("attnonly_2l").config();
        for (String bad : List.of("path_mlp:logits", "path:logits:frozen")) {
            var e = assertThrows(IllegalArgumentException.class, () -> Sweep.parse(bad, attnOnly));
            assertTrue(e.getMessage().contains("attention-only model has no MLPs"), e.getMessage());
        }
    }

    @Test
    void badRequestsNameTheProblem() {
        var e = assertThrows(IllegalArgumentException.class, () -> prepare(CLEAN, new int[]{V - 1, 3}, "resid_pre", PatchMode.DENOISE));
        assertTrue(e.getMessage().contains("7 tokens") && e.getMessage().contains("2 tokens"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ActivationPatching.prepare(engine, List.of(new PromptPair(CLEAN, CORRUPT)),
                PatchMetric.parse("logit_diff:9:1:2"), Sweep.parse("resid_pre", f.config()), PatchMode.DENOISE));
        assertTrue(e.getMessage().contains("position 9"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Sweep.parse("head_zz", f.config()));
        assertTrue(e.getMessage().contains("head_zz") && e.getMessage().contains("head_out_by_pos"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> prepare(CLEAN, new int[]{V - 1, 17, 5, 23, 9, 31, V}, "resid_pre", PatchMode.DENOISE));
        assertTrue(e.getMessage().contains("unknown token id " + V), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Sweep.parse("neurons:3", f.config()));
        assertThrows(IllegalArgumentException.class, () -> PatchMetric.parse("logit_diff:-1:2"));
    }
}
