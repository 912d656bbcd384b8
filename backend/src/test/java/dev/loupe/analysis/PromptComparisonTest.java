package dev.loupe.analysis;

import dev.loupe.runtime.Engine;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A comparison's numbers are the single-prompt analyses' numbers, and the reference's logits. */
class PromptComparisonTest {

    @Test
    void everyRowIsThePromptAlone() {
        Golden g = Golden.load("odd_3l");
        int vocab = g.config().dVocab();
        try (Engine e = Engine.create(g.weights())) {
            Subject s = g.subject(e);
            List<int[]> prompts = g.prompts();
            List<String> texts = prompts.stream().map(p -> s.tokenizer().decode(p)).toList();
            int a = 7, b = 11;
            var diff = PromptComparison.compute(s, texts, prompts, PromptComparison.Metric.LOGIT_DIFF, a, b);
            var prob = PromptComparison.compute(s, texts, prompts, PromptComparison.Metric.PROB, a, null);
            var loss = PromptComparison.compute(s, texts, prompts, PromptComparison.Metric.LOSS, null, null);
            double sum = 0;
            int n = 0;
            for (int i = 0; i < prompts.size(); i++) {
                int[] ids = prompts.get(i);
                int last = ids.length - 1;
                float[] ref = g.hooks().get(i).get("logits").data();
                var dla = DirectLogitAttribution.compute(s, ids, last, a, b);
                assertEquals(dla.logitDiff(), diff.rows().get(i).value(), 1e-5, "prompt " + i); // the attribution's run caches hooks: float rounding may differ
                assertEquals(ref[last * vocab + a] - ref[last * vocab + b], diff.rows().get(i).value(), 1e-4);
                double[] ls = AnalysesTest.logSoftmax(ref, last, vocab);
                assertEquals(Math.exp(ls[a]), prob.rows().get(i).value(), 1e-5);
                var pred = Predictions.compute(s, ids, 1);
                assertEquals(pred.positions().get(last).next().get(0).id(), diff.rows().get(i).top().id());
                if (ids.length < 2) assertNull(loss.rows().get(i).value());
                else {
                    assertEquals(pred.meanLoss(), loss.rows().get(i).value(), 1e-6);
                    sum += loss.rows().get(i).value();
                    n++;
                }
                assertEquals(ids.length, loss.rows().get(i).tokens());
            }
            assertEquals(sum / n, loss.mean(), 1e-12);
            String csv = PromptComparison.csv(diff);
            assertTrue(csv.startsWith("index,prompt,tokens,logit_diff,"), csv);
            assertEquals(prompts.size() + 1, csv.split("\n").length);
            assertEquals(diff.rows().get(1).value(), Double.parseDouble(csv.split("\n")[2].split(",")[3]), 0);
        }
    }
}
