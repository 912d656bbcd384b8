package dev.loupe.analysis;

import dev.loupe.model.Tensor;
import dev.loupe.runtime.Engine;
import dev.loupe.runtime.RunRequest;
import dev.loupe.runtime.RunResult;
import org.junit.jupiter.api.Test;


import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The lens and the prompt's predictions reduce the logits inside ONNX Runtime ({@link Engine#topLogits}); here they
 * equal the whole rows of logits copied out and reduced in Java in double (top-k, log-sum-exp, rank), to 1e-5.
 */
class TopLogitsTest {
    static final double EPS = 1e-5;

    /** A cell from a whole row of logits, reduced in Java: what the lens computed before. */
    private static LogitLens.Cell fromRow(Subject s, float[] logits, int off, int vocab, Integer target, int k) {
        double lse = Ops.logSumExp(logits, off, vocab);
        return new LogitLens.Cell(Ops.candidates(s, logits, off, vocab, k, lse),
                target == null ? null : Math.exp(logits[off + target] - lse), target == null ? null : Ops.rank(logits, off, vocab, target));
    }

    private static void assertCell(LogitLens.Cell want, LogitLens.Cell got, String where) {
        assertEquals(want.top().size(), got.top().size(), where);
        for (int j = 0; j < want.top().size(); j++) {
            Candidate a = want.top().get(j), b = got.top().get(j);
            assertEquals(a.id(), b.id(), where + " top " + j);
            assertEquals(a.token(), b.token(), where + " top " + j);
            assertEquals(a.prob(), b.prob(), EPS, where + " top " + j);
            assertEquals(a.logit(), b.logit(), EPS, where + " top " + j);
        }
        if (want.target() == null) {
            assertEquals(null, got.target(), where);
        } else {
            assertEquals(want.target(), got.target(), EPS, where + " target");
            assertEquals(want.targetRank(), got.targetRank(), where + " rank");
        }
    }

    @Test
    void theLensEqualsTheWholeLogitsReducedInJava() {
        for (String name : new String[]{"gpt2vocab_2l", "odd_3l"}) {
            Golden g = Golden.load(name);
            int n = g.config().nLayers(), vocab = g.config().dVocab(), k = 5;
            try (Engine e = Engine.create(g.weights())) {
                Subject s = g.subject(e);
                int[] ids = g.prompts().get(1);
                for (Integer target : new Integer[]{null, 7}) {
                    for (int from : new int[]{0, ids.length - 2}) {
                        var lens = LogitLens.compute(s, ids, LogitLens.Stream.ALL, target, k, from);
                        try (RunResult run = e.run(RunRequest.of(ids).cache(h -> true).stopAfter(n - 1))) {
                            for (int row = 0; row < lens.layers().size(); row++) {
                                String hook = lens.layers().get(row);
                                Tensor x = hook.equals(LogitLens.OUTPUT) ? run.residual() : run.get(hook);
                                float[] logits;
                                try (RunResult u = e.run(RunRequest.fromResidual(n, x))) {
                                    logits = u.logits().data();
                                }
                                for (int p = 0; p < ids.length; p++) {
                                    String where = name + " " + hook + " pos " + p + " target " + target + " from " + from;
                                    if (p < from) assertEquals(null, lens.cells().get(row).get(p), where);
                                    else assertCell(fromRow(s, logits, p * vocab, vocab, target, k), lens.cells().get(row).get(p), where);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void thePredictionsEqualTheWholeLogitsReducedInJava() {
        for (String name : new String[]{"gpt2vocab_2l", "odd_3l"}) {
            Golden g = Golden.load(name);
            int vocab = g.config().dVocab();
            try (Engine e = Engine.create(g.weights())) {
                Subject s = g.subject(e);
                for (int[] ids : g.prompts()) {
                    var got = Predictions.compute(s, ids, 10);
                    float[] logits = e.logits(ids).data();
                    double sum = 0;
                    for (int p = 0; p < ids.length; p++) {
                        String where = name + " pos " + p;
                        var pos = got.positions().get(p);
                        assertCell(fromRow(s, logits, p * vocab, vocab, null, 10), new LogitLens.Cell(pos.next(), null, null), where);
                        if (p == 0) {
                            assertEquals(null, pos.loss(), where);
                            continue;
                        }
                        var want = fromRow(s, logits, (p - 1) * vocab, vocab, ids[p], 1);
                        assertEquals(want.target(), pos.prob(), EPS, where);
                        assertEquals(-Math.log(want.target()), pos.loss(), EPS, where);
                        assertEquals(want.targetRank(), pos.rank(), where);
                        sum += pos.loss();
                    }
                    if (ids.length > 1) assertEquals(sum / (ids.length - 1), got.meanLoss(), 1e-12);
                }
            }
        }
    }

    @Test
    void rowsBeyondOneCallAndBadTargetsAreHandled() {
        Golden g = Golden.load("gpt2vocab_2l");
        int d = g.config().dModel(), vocab = g.config().dVocab();
        try (Engine e = Engine.create(g.weights())) {
            // more rows than one call reduces (4 Mi logits / 50,257 = 83 rows): the chunks join seamlessly
            int rows = 200;
            Tensor x = Tensor.zeros(rows, d);
            java.util.Random rnd = new java.util.Random(3);
            for (int i = 0; i < x.size(); i++) x.data()[i] = (float) rnd.nextGaussian();
            int[] targets = new int[rows];
            for (int i = 0; i < rows; i++) targets[i] = rnd.nextInt(vocab);
            Engine.TopLogits top = e.topLogits(x, 3, targets);
            float[] logits;
            try (RunResult u = e.run(RunRequest.fromResidual(g.config().nLayers(), x.reshape(1, rows, d)))) {
                logits = u.logits().data();
            }
            for (int r : new int[]{0, 82, 83, 84, 166, 199}) {
                int[] want = Ops.topK(logits, r * vocab, vocab, 3);
                for (int j = 0; j < 3; j++) assertEquals(want[j], top.ids()[r * 3 + j], "row " + r);
                assertEquals(Ops.logSumExp(logits, r * vocab, vocab), top.logSumExp(r), EPS, "row " + r);
                assertEquals(logits[r * vocab + targets[r]], top.targetLogit()[r], EPS, "row " + r);
                assertEquals(Ops.rank(logits, r * vocab, vocab, targets[r]), top.above()[r] + 1, "row " + r);
            }
            assertThrows(IllegalArgumentException.class, () -> e.topLogits(x, 3, new int[]{1}));
            int[] bad = targets.clone();
            bad[5] = vocab;
            assertThrows(IllegalArgumentException.class, () -> e.topLogits(x, 3, bad));
        }
    }
}
