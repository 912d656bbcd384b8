package dev.loupe.analysis;

import dev.loupe.model.GptConfig;
import dev.loupe.model.Tensor;
import dev.loupe.runtime.Engine;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Predictions, logit lens, attention and detectors against the PyTorch reference's hooks. */
class AnalysesTest {
    static Golden golden;
    static Engine engine;
    static Subject subject;

    @BeforeAll
    static void setUp() {
        golden = Golden.load("odd_3l");
        engine = Engine.create(golden.weights());
        subject = golden.subject(engine);
    }

    @AfterAll
    static void tearDown() { engine.close(); }

    /** log-softmax of row p of [1, T, V] logits, in double. */
    static double[] logSoftmax(float[] logits, int p, int vocab) {
        double lse = Ops.logSumExp(logits, p * vocab, vocab);
        double[] out = new double[vocab];
        for (int i = 0; i < vocab; i++) out[i] = logits[p * vocab + i] - lse;
        return out;
    }

    static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    @Test
    void predictionsMatchTheReferenceLogits() {
        int vocab = golden.config().dVocab();
        for (int p = 0; p < golden.prompts().size(); p++) {
            int[] ids = golden.prompts().get(p);
            float[] logits = golden.hooks().get(p).get("logits").data();
            var r = Predictions.compute(subject, ids, 10);
            assertEquals(ids.length, r.positions().size());
            assertNull(r.positions().get(0).loss());
            double sum = 0;
            for (int i = 0; i < ids.length; i++) {
                var pos = r.positions().get(i);
                assertEquals(ids[i], pos.token().id());
                assertEquals("t" + ids[i], pos.token().token());
                double[] ls = logSoftmax(logits, i, vocab);
                assertEquals(Math.min(10, vocab), pos.next().size());
                assertEquals(argmax(ls), pos.next().get(0).id());
                assertEquals(Math.exp(ls[pos.next().get(0).id()]), pos.next().get(0).prob(), 1e-5);
                for (int k = 1; k < pos.next().size(); k++) assertTrue(pos.next().get(k).prob() <= pos.next().get(k - 1).prob());
                if (i > 0) {
                    double loss = -logSoftmax(logits, i - 1, vocab)[ids[i]];
                    assertEquals(loss, pos.loss(), 1e-4);
                    assertEquals(Math.exp(-loss), pos.prob(), 1e-5);
                    sum += loss;
                }
            }
            if (ids.length > 1) assertEquals(sum / (ids.length - 1), r.meanLoss(), 1e-4);
        }
    }

    @Test
    void logitLensReadsEveryLayerThroughTheFinalLayerNorm() {
        GptConfig c = golden.config();
        int d = c.dModel(), vocab = c.dVocab();
        float[] we = golden.weights().get("wte.weight").data();
        float[] lw = golden.weights().get("ln_f.weight").data(), lb = golden.weights().get("ln_f.bias").data();
        int[] ids = golden.prompts().get(1);
        Map<String, Tensor> ref = golden.hooks().get(1);
        int target = 5;
        var r = LogitLens.compute(subject, ids, target, 5);
        assertEquals(c.nLayers() + 1, r.layers().size());
        assertEquals("blocks.0.hook_resid_pre", r.layers().get(0));
        assertEquals("output", r.layers().get(c.nLayers()));
        assertEquals(target, r.target().id());
        for (int l = 0; l <= c.nLayers(); l++) {
            // an independent lens: LayerNorm by hand, then the unembedding, from the reference's residual
            float[] resid = l < c.nLayers() ? ref.get("blocks." + l + ".hook_resid_pre").data()
                    : ref.get("blocks." + (l - 1) + ".hook_resid_post").data();
            for (int p = 0; p < ids.length; p++) {
                double mean = 0, var = 0;
                for (int i = 0; i < d; i++) mean += resid[p * d + i];
                mean /= d;
                for (int i = 0; i < d; i++) var += Math.pow(resid[p * d + i] - mean, 2);
                double scale = Math.sqrt(var / d + c.lnEps());
                float[] logits = new float[vocab];
                for (int v = 0; v < vocab; v++) {
                    double s = 0;
                    for (int i = 0; i < d; i++) s += ((resid[p * d + i] - mean) / scale * lw[i] + lb[i]) * we[v * d + i];
                    logits[v] = (float) s;
                }
                double[] ls = logSoftmax(logits, 0, vocab);
                var cell = r.cells().get(l).get(p);
                assertEquals(5, cell.top().size());
                assertEquals(argmax(ls), cell.top().get(0).id(), "layer " + l + " pos " + p);
                assertEquals(Math.exp(ls[cell.top().get(0).id()]), cell.top().get(0).prob(), 1e-4);
                assertEquals(Math.exp(ls[target]), cell.target(), 1e-4);
            }
        }
        // the last row is the real output
        var pred = Predictions.compute(subject, ids, 1);
        for (int p = 0; p < ids.length; p++)
            assertEquals(pred.positions().get(p).next().get(0).id(), r.cells().get(c.nLayers()).get(p).top().get(0).id());
    }

    @Test
    void attentionPatternsAreTheModelsPatterns() {
        int[] ids = golden.prompts().get(1);
        Tensor ref = golden.hooks().get(1).get("blocks.2.attn.hook_pattern");
        int t = ids.length;
        var all = AttentionPatterns.compute(subject, ids, 2, -1);
        assertEquals(List.of(0, 1, 2), all.heads());
        var one = AttentionPatterns.compute(subject, ids, 2, 1);
        assertEquals(List.of(1), one.heads());
        for (int h = 0; h < 3; h++)
            for (int q = 0; q < t; q++) {
                double rowSum = 0;
                for (int k = 0; k < t; k++) {
                    assertEquals(ref.get(0, h, q, k), all.patterns().get(h)[q][k], 1e-5);
                    rowSum += all.patterns().get(h)[q][k];
                }
                assertEquals(1, rowSum, 1e-5);
            }
        assertArrayEquals(all.patterns().get(1)[t - 1], one.patterns().get(0)[t - 1]);
    }

    @Test
    void detectorScoresFindIdealHeads() {
        int[][] seqs = HeadDetectors.repeatedRandomTokens(100, 99, 6, 2, 3);
        int t = seqs[0].length;
        assertEquals(13, t);
        // head 0 attends to the previous token, head 1 to the earlier occurrence, head 2 to the token after it,
        // head 3 to BOS only
        Tensor pat = Tensor.zeros(2, 4, t, t);
        for (int b = 0; b < 2; b++)
            for (int q = 0; q < t; q++) {
                pat.set(1, b, 0, q, Math.max(0, q - 1));
                boolean second = q > 6;
                pat.set(1, b, 1, q, second ? q - 6 : q);
                pat.set(1, b, 2, q, second ? q - 5 : q);
                pat.set(1, b, 3, q, 0);
            }
        var sc = HeadDetectors.scores(seqs, List.of(pat));
        // head 3's query 1 attends to BOS, which is its previous token: 1 of 12 queries
        assertArrayEquals(new double[]{1, 0, 0, 1.0 / 12}, sc.previous()[0], 1e-9);
        assertArrayEquals(new double[]{0, 1, 0, 0}, sc.duplicate()[0], 1e-9);
        assertArrayEquals(new double[]{0, 0, 1, 0}, sc.induction()[0], 1e-9);
    }

    @Test
    void repeatedSequencesAreSeededAndRepeatDistinctTokens() {
        int[][] a = HeadDetectors.repeatedRandomTokens(50257, 50256, 20, 3, 42);
        int[][] b = HeadDetectors.repeatedRandomTokens(50257, 50256, 20, 3, 42);
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(a[i], b[i]);
            assertEquals(50256, a[i][0]);
            List<Integer> seen = new ArrayList<>();
            for (int k = 1; k <= 20; k++) {
                assertEquals(a[i][k], a[i][k + 20]);
                assertTrue(a[i][k] != 50256 && !seen.contains(a[i][k]));
                seen.add(a[i][k]);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> HeadDetectors.repeatedRandomTokens(10, 9, 0, 1, 1));
    }

    @Test
    void detectorsOnAModelAgreeWithItsPatterns() {
        var r = HeadDetectors.compute(subject, 8, 3, 5);
        GptConfig c = golden.config();
        assertEquals(c.nLayers(), r.previousToken().length);
        int[][] seqs = HeadDetectors.repeatedRandomTokens(c.dVocab(), subject.tokenizer().bosId(), 8, 3, 5);
        assertEquals(seqs[0].length, r.sample().size());
        int t = seqs[0].length;
        List<Tensor> pats = new ArrayList<>();
        for (int l = 0; l < c.nLayers(); l++) {
            Tensor all = Tensor.zeros(3, c.nHeads(), t, t);
            for (int b = 0; b < 3; b++) {
                var one = AttentionPatterns.compute(subject, seqs[b], l, -1);
                for (int h = 0; h < c.nHeads(); h++)
                    for (int q = 0; q < t; q++)
                        for (int k = 0; k < t; k++) all.set(one.patterns().get(h)[q][k], b, h, q, k);
            }
            pats.add(all);
        }
        var expect = HeadDetectors.scores(seqs, pats);
        for (int l = 0; l < c.nLayers(); l++) {
            assertArrayEquals(expect.previous()[l], r.previousToken()[l], 1e-5);
            assertArrayEquals(expect.duplicate()[l], r.duplicateToken()[l], 1e-5);
            assertArrayEquals(expect.induction()[l], r.induction()[l], 1e-5);
            for (int h = 0; h < c.nHeads(); h++) {
                assertTrue(r.previousToken()[l][h] >= 0 && r.previousToken()[l][h] <= 1);
                assertTrue(r.induction()[l][h] >= 0 && r.induction()[l][h] <= 1);
            }
        }
    }
}
