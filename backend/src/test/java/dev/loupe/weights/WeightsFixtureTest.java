package dev.loupe.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.analysis.TokenInfo;
import dev.loupe.model.GptWeights;
import dev.loupe.model.ModelFolder;
import dev.loupe.runtime.Fixture;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Composition scores and a head's QK / OV circuits against tools/reference/weights_reference.py (every matrix
 * materialised in float64 by PyTorch): fixtures/weights.json on two random models, a random model with GPT-2's
 * vocabulary and the trained induction-2l.
 */
class WeightsFixtureTest {
    static JsonNode fixture;
    static final Map<String, FoldedWeights> folded = new ConcurrentHashMap<>();

    @BeforeAll
    static void load() throws Exception {
        fixture = new ObjectMapper().readTree(WeightsFixtureTest.class.getResource("/fixtures/weights.json"));
    }

    static FoldedWeights weights(String model) {
        return folded.computeIfAbsent(model, m -> {
            try {
                if (!m.equals("induction-2l")) return FoldedWeights.of(Fixture.load(m).weights());
                Path dir = Path.of("onnx-models", "induction-2l");
                if (!Files.isDirectory(dir)) dir = Path.of("..", "onnx-models", "induction-2l");
                ModelFolder f = ModelFolder.open(dir);
                return FoldedWeights.of(GptWeights.load(f.weightsFile(), f.config()));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    static void close(double expected, double actual, String what) {
        assertEquals(expected, actual, 1e-4 + 1e-4 * Math.abs(expected), what);
    }

    @TestFactory
    List<DynamicTest> compositionScores() {
        List<DynamicTest> tests = new ArrayList<>();
        fixture.get("models").fieldNames().forEachRemaining(model -> tests.add(DynamicTest.dynamicTest(model, () -> {
            Composition.Result r = Composition.compute(weights(model));
            JsonNode ref = fixture.get("models").get(model).get("composition");
            var c = weights(model).config();
            int nh = c.nHeads();
            for (String kind : List.of("q", "k", "v")) {
                JsonNode rk = ref.get(kind);
                Double[][] got = switch (kind) { case "q" -> r.q(); case "k" -> r.k(); default -> r.v(); };
                for (int sl = 0; sl < c.nLayers(); sl++)
                    for (int sh = 0; sh < nh; sh++)
                        for (int rl = 1; rl < c.nLayers(); rl++)
                            for (int rh = 0; rh < nh; rh++) {
                                double want = rk.get(sl).get(sh).get(rl).get(rh).asDouble();
                                Double v = got[(rl - 1) * nh + rh][sl < c.nLayers() - 1 ? sl * nh + sh : 0];
                                if (sl >= rl) {
                                    if (sl < c.nLayers() - 1) assertNull(v, "no score where the sender is not earlier");
                                    continue;
                                }
                                close(want, v, model + " " + kind + " " + sl + "." + sh + " -> " + rl + "." + rh);
                            }
            }
        })));
        return tests;
    }

    /** Rows, their values and the circuit's norm and positivity, as the reference found them on the full matrix. */
    @TestFactory
    List<DynamicTest> headCircuits() {
        List<DynamicTest> tests = new ArrayList<>();
        int k = fixture.get("k").asInt();
        fixture.get("models").fieldNames().forEachRemaining(model -> {
            for (JsonNode head : fixture.get("models").get(model).get("heads")) {
                int l = head.get("layer").asInt(), h = head.get("head").asInt();
                for (String name : List.of("qk", "ov"))
                    tests.add(DynamicTest.dynamicTest(model + " " + l + "." + h + " " + name, () -> {
                        FoldedWeights w = weights(model);
                        LowRank m = name.equals("qk") ? HeadCircuits.qk(w, l, h) : HeadCircuits.ov(w, l, h);
                        JsonNode ref = head.get(name);
                        close(ref.get("norm").asDouble(), m.norm(), "Frobenius norm");
                        if (ref.has("norm_full")) close(ref.get("norm_full").asDouble(), m.norm(), "norm of the full matrix");
                        for (boolean negative : new boolean[]{false, true}) {
                            JsonNode byNorm = ref.get(negative ? "norm_bottom" : "norm_top");
                            if (byNorm != null && !byNorm.isNull()) checkRows(byNorm, HeadCircuits.read(name, "", "", m, HeadCircuits.Rank.NORM, k, k, negative, WeightsFixtureTest::info), k, true);
                            JsonNode byMax = ref.get(negative ? "bottom" : "top");
                            if (byMax == null || byMax.isNull()) continue;
                            HeadCircuits.Circuit c = HeadCircuits.read(name, "", "", m, HeadCircuits.Rank.MAX, k, k, negative, WeightsFixtureTest::info);
                            checkRows(byMax, c, k, false);
                            // the top pairs: the k best entries among the reference's rows
                            List<double[]> want = new ArrayList<>();
                            for (JsonNode row : byMax)
                                for (int j = 0; j < k; j++) want.add(new double[]{row.get("row").asInt(), row.get("cols").get(j).asInt(), row.get("values").get(j).asDouble()});
                            double s = negative ? -1 : 1;
                            want.sort(Comparator.comparingDouble(x -> -s * x[2]));
                            for (int i = 0; i < k; i++) {
                                assertEquals((int) want.get(i)[0], c.pairs().get(i).row().id(), "pair " + i + " row");
                                assertEquals((int) want.get(i)[1], c.pairs().get(i).col().id(), "pair " + i + " column");
                                close(want.get(i)[2], c.pairs().get(i).value(), "pair " + i);
                            }
                            assertTrue(c.entriesComputed() <= c.entriesTotal());
                        }
                        if (ref.has("positivity")) {
                            HeadCircuits.Circuit c = HeadCircuits.read(name, "", "", m, HeadCircuits.Rank.NORM, 1, 1, false, WeightsFixtureTest::info);
                            close(ref.get("positivity").asDouble(), c.positivity(), "Σλ/Σ|λ|");
                            assertEquals(w.config().dHead(), c.eigenvalues().length);
                        }
                        for (JsonNode t : ref.get("tokens")) {
                            var view = HeadCircuits.token(m, t.get("token").asInt(), k, false, WeightsFixtureTest::info);
                            for (int j = 0; j < k; j++) {
                                assertEquals(t.get("row_top").get(j).asInt(), view.asRow().get(j).token().id(), "row of token " + t.get("token"));
                                close(t.get("row_top_values").get(j).asDouble(), view.asRow().get(j).value(), "row value");
                                assertEquals(t.get("col_top").get(j).asInt(), view.asColumn().get(j).token().id(), "column of token " + t.get("token"));
                                close(t.get("col_top_values").get(j).asDouble(), view.asColumn().get(j).value(), "column value");
                            }
                        }
                    }));
            }
        });
        return tests;
    }

    private static void checkRows(JsonNode ref, HeadCircuits.Circuit c, int k, boolean norms) {
        assertEquals(ref.size(), c.rows().size());
        for (int i = 0; i < ref.size(); i++) {
            JsonNode want = ref.get(i);
            var got = c.rows().get(i);
            assertEquals(want.get("row").asInt(), got.token().id(), c.rank() + " row " + i);
            if (norms) close(want.get("norm").asDouble(), got.norm(), "row norm");
            for (int j = 0; j < k; j++) {
                assertEquals(want.get("cols").get(j).asInt(), got.top().get(j).token().id(), "row " + i + " entry " + j);
                close(want.get("values").get(j).asDouble(), got.top().get(j).value(), "row " + i + " entry " + j);
            }
        }
    }

    private static TokenInfo info(int id) { return new TokenInfo(id, "t" + id, "t" + id); }

    /** The Monte-Carlo baseline agrees with the reference's (5,000 samples) within its sampling error, and E[s²] = 1/d_model. */
    @Test
    void baselineOfRandomMatrices() {
        fixture.get("baseline").fields().forEachRemaining(e -> {
            String[] dims = e.getKey().split("x");
            int d = Integer.parseInt(dims[0]), dh = Integer.parseInt(dims[1]);
            Composition.Baseline b = Composition.baseline(d, dh, Composition.BASELINE_SAMPLES, Composition.BASELINE_SEED);
            double refMean = e.getValue().get("mean").asDouble(), refStd = e.getValue().get("std").asDouble();
            assertEquals(refMean, b.mean(), 5 * refStd / Math.sqrt(b.samples()), "mean at " + e.getKey());
            assertEquals(refStd, b.std(), 0.25 * refStd, "std at " + e.getKey());
            assertEquals(1.0 / d, b.rootMeanSquare() * b.rootMeanSquare(), 5 * 2 * refMean * refStd / Math.sqrt(b.samples()), "E[s²] = 1/d_model");
        });
    }

    /** On induction-2l the previous-token head 0.2 K-composes with the layer-1 induction heads far above chance. */
    @Test
    void inductionHeadsKComposeWithThePreviousTokenHead() {
        Composition.Result r = Composition.compute(weights("induction-2l"));
        int sender = r.senders().indexOf("0.2");
        double chance = r.baseline().mean() + 5 * r.baseline().std();
        int strong = 0;
        for (int i = 0; i < r.receivers().size(); i++) {
            double k02 = r.k()[i][sender];
            boolean top = true;
            for (int s = 0; s < r.senders().size(); s++) if (s != sender && r.k()[i][s] >= k02) top = false;
            if (top && k02 > chance) strong++;
        }
        assertTrue(strong >= 2, "layer-1 heads whose strongest K-composition is with 0.2, above chance: " + strong);
    }
}
