package dev.loupe.analysis;

import dev.loupe.model.GptConfig;
import dev.loupe.model.Tensor;
import dev.loupe.runtime.Engine;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The lens of every stream against the PyTorch reference's hooks, and its identities. */
class LogitLensStreamsTest {

    /** unembed(ln_final(x)) of row p of a reference hook, by hand in double: the independent lens. */
    static double[] lens(Golden g, float[] x, int p) {
        GptConfig c = g.config();
        int d = c.dModel(), vocab = c.dVocab();
        float[] we = g.weights().get("wte.weight").data();
        float[] lw = g.weights().get("ln_f.weight").data(), lb = g.weights().get("ln_f.bias").data();
        double mean = 0, var = 0;
        for (int i = 0; i < d; i++) mean += x[p * d + i];
        mean /= d;
        for (int i = 0; i < d; i++) var += Math.pow(x[p * d + i] - mean, 2);
        double scale = Math.sqrt(var / d + c.lnEps());
        double[] logits = new double[vocab];
        for (int v = 0; v < vocab; v++) {
            double s = 0;
            for (int i = 0; i < d; i++) s += ((x[p * d + i] - mean) / scale * lw[i] + lb[i]) * we[v * d + i];
            logits[v] = s;
        }
        double max = Double.NEGATIVE_INFINITY;
        for (double v : logits) max = Math.max(max, v);
        double z = 0;
        for (double v : logits) z += Math.exp(v - max);
        for (int v = 0; v < vocab; v++) logits[v] = Math.exp(logits[v] - max) / z;
        return logits; // probabilities
    }

    @Test
    void everyStreamMatchesTheReferenceLens() {
        for (String name : new String[]{"odd_3l", "attnonly_2l"}) {
            Golden g = Golden.load(name);
            GptConfig c = g.config();
            try (Engine e = Engine.create(g.weights())) {
                Subject s = g.subject(e);
                int[] ids = g.prompts().get(1);
                Map<String, Tensor> ref = g.hooks().get(1);
                int target = 5;
                for (LogitLens.Stream st : LogitLens.Stream.values()) {
                    if (!st.existsIn(c)) {
                        assertThrows(IllegalArgumentException.class, () -> LogitLens.compute(s, ids, st, target, 3), st.key());
                        continue;
                    }
                    var r = LogitLens.compute(s, ids, st, target, 3);
                    assertEquals(st.key(), r.stream());
                    assertEquals(LogitLens.rows(c, st), r.layers());
                    for (int row = 0; row < r.layers().size(); row++) {
                        String hook = r.layers().get(row);
                        float[] x = hook.equals(LogitLens.OUTPUT) ? ref.get("blocks." + (c.nLayers() - 1) + ".hook_resid_post").data() : ref.get(hook).data();
                        for (int p = 0; p < ids.length; p++) {
                            double[] prob = lens(g, x, p);
                            var cell = r.cells().get(row).get(p);
                            String where = name + " " + hook + " pos " + p;
                            assertEquals(prob[cell.top().get(0).id()], cell.top().get(0).prob(), 1e-4, where);
                            for (double v : prob) org.junit.jupiter.api.Assertions.assertTrue(v <= cell.top().get(0).prob() + 1e-4, where + " top is the maximum");
                            assertEquals(prob[target], cell.target(), 1e-4, where);
                        }
                    }
                }
            }
        }
    }

    @Test
    void theLastResidPostIsTheModelsOutputAndStreamsAgreeWhereTheyAreOneVector() {
        Golden g = Golden.load("odd_3l");
        GptConfig c = g.config();
        try (Engine e = Engine.create(g.weights())) {
            Subject s = g.subject(e);
            int[] ids = g.prompts().get(1);
            var post = LogitLens.compute(s, ids, LogitLens.Stream.RESID_POST, 2, 5);
            var pre = LogitLens.compute(s, ids, LogitLens.Stream.RESID_PRE, 2, 5);
            var all = LogitLens.compute(s, ids, LogitLens.Stream.ALL, 2, 5);
            var pred = Predictions.compute(s, ids, 5);
            int n = c.nLayers();
            assertEquals(4 * n + 1, all.layers().size());
            for (int p = 0; p < ids.length; p++) {
                // the lens of the final residual is the model's own prediction
                List<Candidate> out = post.cells().get(n - 1).get(p).top();
                for (int k = 0; k < 5; k++) {
                    assertEquals(pred.positions().get(p).next().get(k).id(), out.get(k).id());
                    assertEquals(pred.positions().get(p).next().get(k).prob(), out.get(k).prob(), 1e-6);
                }
                same(pre.cells().get(n).get(p), post.cells().get(n - 1).get(p));
                same(all.cells().get(4 * n).get(p), post.cells().get(n - 1).get(p));
                // resid_post of a block is resid_pre of the next
                for (int l = 0; l + 1 < n; l++) same(pre.cells().get(l + 1).get(p), post.cells().get(l).get(p));
                for (int l = 0; l < n; l++) same(pre.cells().get(l).get(p), all.cells().get(4 * l).get(p));
            }
        }
    }

    @Test
    void aWindowOfPositionsIsThoseCellsOfTheWholeLens() {
        Golden g = Golden.load("odd_3l");
        try (Engine e = Engine.create(g.weights())) {
            Subject s = g.subject(e);
            int[] ids = g.prompts().get(1);
            for (LogitLens.Stream st : List.of(LogitLens.Stream.RESID_PRE, LogitLens.Stream.ALL)) {
                var whole = LogitLens.compute(s, ids, st, 2, 5);
                int from = ids.length - 3;
                var window = LogitLens.compute(s, ids, st, 2, 5, from);
                assertEquals(whole.layers(), window.layers());
                for (int row = 0; row < whole.layers().size(); row++) {
                    assertEquals(ids.length, window.cells().get(row).size());
                    for (int p = 0; p < ids.length; p++) {
                        if (p < from) org.junit.jupiter.api.Assertions.assertNull(window.cells().get(row).get(p), "not computed: " + p);
                        else same(whole.cells().get(row).get(p), window.cells().get(row).get(p));
                    }
                }
            }
            assertThrows(IllegalArgumentException.class, () -> LogitLens.compute(s, ids, LogitLens.Stream.RESID_PRE, null, 5, ids.length));
        }
    }

    private static void same(LogitLens.Cell a, LogitLens.Cell b) {
        assertEquals(a.top().stream().map(Candidate::id).toList(), b.top().stream().map(Candidate::id).toList());
        for (int k = 0; k < a.top().size(); k++) assertEquals(a.top().get(k).prob(), b.top().get(k).prob(), 1e-6);
        assertEquals(a.target(), b.target(), 1e-6);
        assertEquals(a.targetRank(), b.targetRank());
    }
}
