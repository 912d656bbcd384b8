package dev.loupe.circuits;

import dev.loupe.jobs.Progress;
import dev.loupe.model.LoadedModel;
import dev.loupe.model.ModelFolder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The known answer on induction-2l: the previous-token head a0.h2 feeds the layer-1 induction heads through their
 * keys, and those heads write the answer into the logits. EAP-IG ranks these edges at the top and ACDC keeps them.
 */
class InductionCircuitTest {
    static CircuitRunner runner;
    static CircuitAnalysis analysis;

    @BeforeAll static void load() throws Exception {
        Path dir = Path.of("onnx-models", "induction-2l");
        if (!Files.isDirectory(dir)) dir = Path.of("..", "onnx-models", "induction-2l");
        Assumptions.assumeTrue(Files.isDirectory(dir), "induction-2l not present");
        LoadedModel m = ModelFolder.open(dir).load();
        runner = new CircuitRunner(m.weights(), 2);
        analysis = new CircuitAnalysis(runner, CircuitTasks.induction(m.tokenizer(), m.config(), 32, 10, 1));
    }

    @AfterAll static void close() { if (runner != null) runner.close(); }

    static List<String> top(float[] scores, int n) {
        int[] order = Faithfulness.rankByMagnitude(scores);
        List<String> names = new ArrayList<>();
        for (int i = 0; i < n; i++) names.add(analysis.edges().edgeName(order[i]));
        return names;
    }

    /** The induction heads: layer-1 heads that the previous-token head feeds through their keys. */
    static final Set<String> KEY_EDGES = Set.of("a0.h2->a1.h0<k>", "a0.h2->a1.h1<k>", "a0.h2->a1.h2<k>", "a0.h2->a1.h3<k>");

    @Test void cleanAndCorruptedMetricsAreFarApart() {
        System.out.printf("induction-2l: clean %.3f corrupted %.3f%n", analysis.cleanMetric(), analysis.corruptMetric());
        assertTrue(analysis.cleanMetric() - analysis.corruptMetric() > 5);
    }

    @Test void eapIgFindsThePreviousTokenHeadFeedingTheInductionHeads() {
        float[] s = analysis.eapIg(5, Progress.NONE);
        List<String> top = top(s, 12);
        System.out.println("EAP-IG top 12: " + top);
        long keys = top.stream().filter(KEY_EDGES::contains).count();
        long toLogits = top.stream().filter(e -> e.startsWith("a1.") && e.endsWith("->logits")).count();
        assertTrue(keys >= 2, "a0.h2 -> induction heads' <k> in the top 12: " + top);
        assertTrue(toLogits >= 2, "induction heads -> logits in the top 12: " + top);
        Faithfulness.Curves c = Faithfulness.curves(analysis, s, Progress.NONE);
        System.out.println("EAP-IG faithfulness: " + c.topN());
        double at50 = c.topN().stream().filter(p -> p.n() == 50).findFirst().orElseThrow().faithfulness();
        assertTrue(at50 > 0.9, "50 of 81 edges recover the clean metric: " + at50);
    }

    @Test void acdcKeepsTheInductionCircuit() {
        Acdc.Result r = Acdc.run(analysis, 0.05, Acdc.Objective.KL, Progress.NONE);
        List<String> kept = new ArrayList<>();
        r.kept().stream().forEach(e -> kept.add(analysis.edges().edgeName(e)));
        double f = analysis.faithfulness(analysis.evaluate(List.of(r.kept()), Progress.NONE).get(0).metric());
        System.out.printf("ACDC tau 0.05: %d edges, faithfulness %.3f, %d evaluations: %s%n", kept.size(), f, r.evaluations(), kept);
        assertTrue(kept.stream().anyMatch(KEY_EDGES::contains), "keeps a0.h2 -> an induction head's <k>: " + kept);
        assertTrue(kept.stream().anyMatch(e -> e.startsWith("a1.") && e.endsWith("->logits")), "keeps an induction head -> logits: " + kept);
        assertTrue(kept.size() < 40, "a small circuit: " + kept.size());
        assertTrue(f > 0.7, "faithful: " + f);
    }
}
