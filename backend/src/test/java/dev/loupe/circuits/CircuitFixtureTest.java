package dev.loupe.circuits;

import dev.loupe.jobs.Progress;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** EAP, EAP-IG and exact evaluation against the PyTorch reference (tools/reference/circuits_reference.py). */
class CircuitFixtureTest {
    static final Map<String, CircuitFixture> FIXTURES = new HashMap<>();
    static final Map<String, CircuitRunner> RUNNERS = new HashMap<>();

    @BeforeAll static void load() {
        for (String n : CircuitFixture.NAMES) {
            CircuitFixture f = CircuitFixture.load(n);
            FIXTURES.put(n, f);
            RUNNERS.put(n, new CircuitRunner(f.weights(), 2));
        }
    }

    @AfterAll static void close() { RUNNERS.values().forEach(CircuitRunner::close); }

    static List<String> names() { return CircuitFixture.NAMES; }

    static CircuitAnalysis analysis(String n) { return new CircuitAnalysis(RUNNERS.get(n), FIXTURES.get(n).dataset()); }

    static void assertScores(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": edge count");
        float max = 0;
        for (float v : expected) max = Math.max(max, Math.abs(v));
        assertTrue(max > 1e-3, what + ": the reference scores are not trivially zero");
        for (int e = 0; e < expected.length; e++)
            assertEquals(expected[e], actual[e], 1e-4 * max, what + " edge " + e);
    }

    @ParameterizedTest @MethodSource("names")
    void edgeNamesMatchTheReference(String n) {
        EdgeGraph g = RUNNERS.get(n).edges();
        List<String> names = new ArrayList<>();
        for (int e = 0; e < g.edgeCount(); e++) names.add(g.edgeName(e));
        assertEquals(FIXTURES.get(n).edgeNames(), names);
    }

    @ParameterizedTest @MethodSource("names")
    void eapMatchesTheReference(String n) { assertScores(FIXTURES.get(n).eap(), analysis(n).eap(), n + " EAP"); }

    @ParameterizedTest @MethodSource("names")
    void eapIgMatchesTheReference(String n) {
        CircuitFixture f = FIXTURES.get(n);
        assertScores(f.eapIg(), analysis(n).eapIg(f.igSteps(), Progress.NONE), n + " EAP-IG");
    }

    @ParameterizedTest @MethodSource("names")
    void eapIgWithOneStepIsEap(String n) {
        CircuitAnalysis a = analysis(n);
        assertScores(a.eap(), a.eapIg(1, Progress.NONE), n + " EAP-IG(1)");
    }

    @ParameterizedTest @MethodSource("names")
    void exactEvaluationMatchesTheReference(String n) {
        CircuitFixture f = FIXTURES.get(n);
        CircuitAnalysis a = analysis(n);
        List<CircuitAnalysis.Evaluation> ev = a.evaluate(f.sets(), Progress.NONE);
        for (int s = 0; s < ev.size(); s++) {
            assertEquals(f.setMetric()[s], ev.get(s).metric(), 1e-4 * Math.max(1, Math.abs(f.setMetric()[s])), n + " set " + s + " metric");
            assertEquals(f.setKl()[s], ev.get(s).kl(), 1e-4 * Math.max(1, f.setKl()[s]), n + " set " + s + " KL");
        }
    }

    @ParameterizedTest @MethodSource("names")
    void allEdgesGiveTheCleanMetricAndNoneTheCorrupted(String n) {
        CircuitAnalysis a = analysis(n);
        List<CircuitAnalysis.Evaluation> ev = a.evaluate(List.of(a.allEdges(), new BitSet()), Progress.NONE);
        assertEquals(a.cleanMetric(), ev.get(0).metric(), 1e-5 * Math.max(1, Math.abs(a.cleanMetric())));
        assertEquals(0, ev.get(0).kl(), 1e-6);
        assertEquals(a.corruptMetric(), ev.get(1).metric(), 1e-5 * Math.max(1, Math.abs(a.corruptMetric())));
        assertEquals(1.0, a.faithfulness(ev.get(0).metric()), 1e-5);
        assertEquals(0.0, a.faithfulness(ev.get(1).metric()), 1e-5);
    }
}
