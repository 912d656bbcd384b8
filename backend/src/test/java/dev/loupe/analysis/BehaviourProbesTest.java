package dev.loupe.analysis;

import dev.loupe.runtime.Engine;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The probes' numbers are those of the single-prompt analyses (whose logits are checked against PyTorch). */
class BehaviourProbesTest {

    @Test
    void preferencesAreTheNextTokenProbabilitiesOfThePromptView() {
        Golden g = Golden.load("gpt2vocab_2l");
        try (Engine e = Engine.create(g.weights())) {
            Subject s = g.subject(e);
            for (BehaviourProbes.Preference p : BehaviourProbes.PREFERENCES) {
                var r = BehaviourProbes.preference(s, p);
                int[] prompt = s.tokenizer().encode(p.prompt());
                int a = s.tokenizer().encodeText(p.expected())[0], b = s.tokenizer().encodeText(p.contrast())[0];
                // the prompt view's probability of a token is that of the prompt followed by it
                assertEquals(Predictions.compute(s, append(prompt, a), 1).positions().get(prompt.length).prob(), r.pExpected(), 1e-6, p.prompt());
                assertEquals(Predictions.compute(s, append(prompt, b), 1).positions().get(prompt.length).prob(), r.pContrast(), 1e-6, p.prompt());
                assertEquals(r.pExpected() > r.pContrast(), r.holds());
            }
        }
    }

    @Test
    void copyLossesAreTheMeanLossesOfEachCopy() {
        Golden g = Golden.load("gpt2vocab_2l");
        try (Engine e = Engine.create(g.weights())) {
            Subject s = g.subject(e);
            String text = "The cat sat on the mat and looked at the door.";
            int[] t = s.tokenizer().encodeText(text);
            int n = t.length;
            int[] ids = new int[1 + 2 * n];
            ids[0] = s.tokenizer().bosId();
            System.arraycopy(t, 0, ids, 1, n);
            System.arraycopy(t, 0, ids, 1 + n, n);
            List<Predictions.Position> pos = Predictions.compute(s, ids, 1).positions();
            double first = 0, second = 0;
            for (int i = 1; i <= n; i++) first += pos.get(i).loss();
            for (int i = n + 1; i <= 2 * n; i++) second += pos.get(i).loss();
            var c = BehaviourProbes.copyLosses(s, text);
            assertEquals(first / n, c.first(), 1e-5);
            assertEquals(second / n, c.second(), 1e-5);
            // this fixture's context is 64 tokens: the probe's paragraph twice does not fit, and the error says so
            var ex = assertThrows(IllegalArgumentException.class, () -> BehaviourProbes.copyLosses(s, BehaviourProbes.PARAGRAPH));
            assertTrue(ex.getMessage().contains("does not fit the context of 64"), ex.getMessage());
        }
    }

    @Test
    void aProbeTokenMustBeOneToken() {
        Golden g = Golden.load("gpt2vocab_2l");
        try (Engine e = Engine.create(g.weights())) {
            var ex = assertThrows(IllegalArgumentException.class, () -> BehaviourProbes.preference(g.subject(e),
                    new BehaviourProbes.Preference("x", "The boys", " are not", " is")));
            assertTrue(ex.getMessage().contains("' are not' is 2 tokens"), ex.getMessage());
        }
    }

    private static int[] append(int[] ids, int id) {
        int[] out = java.util.Arrays.copyOf(ids, ids.length + 1);
        out[ids.length] = id;
        return out;
    }
}
