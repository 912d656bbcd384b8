package dev.loupe.analysis;

import dev.loupe.model.Tensor;
import dev.loupe.runtime.RunRequest;
import dev.loupe.runtime.RunResult;

import java.util.ArrayList;
import java.util.List;

/**
 * A fixed set of behaviours a small English language model can show, measured the same way on every model so that
 * models can be compared side by side: next-token preferences after a prompt (a/an, subject–verb agreement with and
 * without an intervening noun, closing a quotation, " States" after "the United"), and copying (the loss on each copy
 * of a natural paragraph written twice, and the heads' induction scores on repeated random tokens).
 */
public final class BehaviourProbes {
    private BehaviourProbes() {}

    /** After {@code prompt} (BOS prepended), the model should prefer {@code expected} to {@code contrast}. */
    public record Preference(String behaviour, String prompt, String expected, String contrast) {}

    /** @param pExpected p(expected | prompt); @param pContrast p(contrast | prompt) */
    public record PreferenceResult(Preference probe, double pExpected, double pContrast) {
        public boolean holds() { return pExpected > pContrast; }
    }

    /** Mean loss (nats/token) on the first and the second copy of {@link #PARAGRAPH} written twice after BOS. */
    public record CopyLosses(double first, double second) {}

    /** The best head by induction score on repeated random tokens (the explorer's head detectors), and the chance level. */
    public record Induction(String head, double score, double chance) {}

    public record Result(List<PreferenceResult> preferences, CopyLosses copy, Induction induction) {}

    public static final List<Preference> PREFERENCES = List.of(
            new Preference("a/an", "I climbed up the pear tree and picked up a pear. I climbed up the apple tree and picked up", " an", " a"),
            new Preference("a/an", "He was carrying an", " old", " big"),
            new Preference("agreement", "The boys", " are", " is"),
            new Preference("agreement", "The boy", " is", " are"),
            new Preference("agreement, noun between", "The boys near the car", " are", " is"),
            new Preference("agreement, noun between", "The boy near the cars", " is", " are"),
            new Preference("quotes", "She said, \"I will come back tomorrow", ".\"", "."),
            new Preference("quotes", "She said that she would come back tomorrow", ".", ".\""),
            new Preference("\" States\"", "The president of the United", " States", " Nations"));

    /** Written for this probe (so no model has seen it), repeated twice: the second copy is predictable only by copying. */
    public static final String PARAGRAPH = "The old miller kept a grey horse named Barnaby in the stable behind the mill. "
            + "Every morning before sunrise he walked to the river with a lantern, counted the sacks of grain on the cart, "
            + "and sang the same three songs his father had taught him.";

    /** The head detectors' defaults of the explorer: 40 random tokens repeated, 2 sequences, seed 0. */
    public static final int INDUCTION_LENGTH = 40, INDUCTION_BATCH = 2;

    public static Result compute(Subject s) {
        List<PreferenceResult> prefs = new ArrayList<>();
        for (Preference p : PREFERENCES) prefs.add(preference(s, p));
        HeadDetectors.Result d = HeadDetectors.compute(s, INDUCTION_LENGTH, INDUCTION_BATCH, 0);
        int bl = 0, bh = 0;
        for (int l = 0; l < d.induction().length; l++)
            for (int h = 0; h < d.induction()[l].length; h++)
                if (d.induction()[l][h] > d.induction()[bl][bh]) { bl = l; bh = h; }
        return new Result(prefs, copyLosses(s, PARAGRAPH), new Induction(bl + "." + bh, d.induction()[bl][bh], d.chance().induction()));
    }

    public static PreferenceResult preference(Subject s, Preference p) {
        int[] ids = s.tokenizer().encode(p.prompt());
        int a = single(s, p.expected()), b = single(s, p.contrast());
        double[] logp = lastLogProbs(s, ids);
        return new PreferenceResult(p, Math.exp(logp[a]), Math.exp(logp[b]));
    }

    /**
     * Mean −log p of each copy's tokens when {@code paragraph} is written twice after BOS; the first token of the first
     * copy, predicted from BOS alone, is included.
     */
    public static CopyLosses copyLosses(Subject s, String paragraph) {
        int[] text = s.tokenizer().encodeText(paragraph);
        int n = text.length;
        int bos = s.tokenizer().bosId();
        int lead = bos >= 0 ? 1 : 0;
        if (lead + 2 * n > s.config().nCtx())
            throw new IllegalArgumentException("the text written twice (" + (lead + 2 * n) + " tokens) does not fit the context of " + s.config().nCtx());
        int[] ids = new int[lead + 2 * n];
        if (lead == 1) ids[0] = bos;
        System.arraycopy(text, 0, ids, lead, n);
        System.arraycopy(text, 0, ids, lead + n, n);
        double first = 0, second = 0;
        Tensor logits;
        try (RunResult r = s.engine().run(RunRequest.of(ids))) {
            logits = r.logits();
        }
        int v = s.config().dVocab();
        float[] d = logits.data();
        for (int t = lead == 1 ? 0 : 1; t + 1 < ids.length; t++) {
            double nll = Ops.logSumExp(d, t * v, v) - d[t * v + ids[t + 1]];
            if (t + 1 < lead + n) first += nll; else second += nll;
        }
        return new CopyLosses(first / (lead == 1 ? n : n - 1), second / n);
    }

    private static int single(Subject s, String token) {
        int[] ids = s.tokenizer().encodeText(token);
        if (ids.length != 1) throw new IllegalArgumentException("'" + token + "' is " + ids.length + " tokens, not one");
        return ids[0];
    }

    /** log-softmax of the logits after the last token. */
    static double[] lastLogProbs(Subject s, int[] ids) {
        Tensor logits;
        try (RunResult r = s.engine().run(RunRequest.of(ids))) {
            logits = r.logits();
        }
        int v = s.config().dVocab();
        float[] d = logits.data();
        int off = (ids.length - 1) * v;
        double lse = Ops.logSumExp(d, off, v);
        double[] out = new double[v];
        for (int i = 0; i < v; i++) out[i] = d[off + i] - lse;
        return out;
    }
}
