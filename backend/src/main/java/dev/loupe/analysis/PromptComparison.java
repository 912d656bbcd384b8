package dev.loupe.analysis;

import dev.loupe.runtime.RunRequest;
import dev.loupe.runtime.RunResult;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One metric over a list of prompts, each run on its own: logit(A) − logit(B) or p(A) at the last position, or the
 * mean next-token loss over the prompt (the same numbers as the direct logit attribution's logit difference and the
 * prompt view's mean loss of that prompt alone).
 */
public final class PromptComparison {
    private PromptComparison() {}

    public enum Metric {
        LOGIT_DIFF("logit(A) − logit(B) at the last position"), PROB("p(A) at the last position"), LOSS("mean next-token loss (nats)");

        public final String description;

        Metric(String description) { this.description = description; }

        public String key() { return name().toLowerCase(Locale.ROOT); }

        public static Metric parse(String s) {
            for (Metric m : values()) if (m.key().equals(s)) return m;
            throw new IllegalArgumentException("unknown metric '" + s + "': one of logit_diff, prob, loss");
        }
    }

    /**
     * @param value the metric (null for the loss of a one-token prompt)
     * @param top   the model's top prediction after the last token, with its probability
     */
    public record Row(int index, String text, int tokens, Double value, Double logitA, Double logitB, Candidate top) {}

    /** @param mean the mean of the values that exist */
    public record Result(String metric, String description, TokenInfo a, TokenInfo b, List<Row> rows, Double mean) {}

    /** @param prompts token ids of each prompt (BOS included); texts: what the user typed */
    public static Result compute(Subject s, List<String> texts, List<int[]> prompts, Metric metric, Integer a, Integer b) {
        int vocab = s.config().dVocab();
        List<Row> rows = new ArrayList<>();
        double sum = 0;
        int count = 0;
        for (int i = 0; i < prompts.size(); i++) {
            int[] ids = prompts.get(i);
            float[] logits;
            try (RunResult run = s.engine().run(RunRequest.of(ids))) {
                logits = run.logits().data();
            }
            int last = (ids.length - 1) * vocab;
            double lse = Ops.logSumExp(logits, last, vocab);
            Double la = a == null ? null : (double) logits[last + a];
            Double lb = b == null ? null : (double) logits[last + b];
            Double value = switch (metric) {
                case LOGIT_DIFF -> la - lb;
                case PROB -> Math.exp(la - lse);
                case LOSS -> meanLoss(logits, ids, vocab);
            };
            if (value != null) {
                sum += value;
                count++;
            }
            rows.add(new Row(i, texts.get(i), ids.length, value, la, lb, Ops.candidates(s, logits, last, vocab, 1, lse).get(0)));
        }
        return new Result(metric.key(), metric.description, a == null ? null : s.token(a), b == null ? null : s.token(b), rows,
                count == 0 ? null : sum / count);
    }

    /** Mean of −log p(token | the tokens before) over positions 1..T−1, as the prompt view computes it. */
    private static Double meanLoss(float[] logits, int[] ids, int vocab) {
        if (ids.length < 2) return null;
        double s = 0;
        for (int p = 1; p < ids.length; p++) {
            int off = (p - 1) * vocab;
            s += Ops.logSumExp(logits, off, vocab) - logits[off + ids[p]];
        }
        return s / (ids.length - 1);
    }

    /** The rows as CSV: index, prompt, tokens, value, logit A, logit B, top prediction, its probability. */
    public static String csv(Result r) {
        StringBuilder out = new StringBuilder("index,prompt,tokens," + r.metric() + ",logit_a,logit_b,top,top_prob\n");
        for (Row row : r.rows())
            out.append(row.index()).append(',').append(quote(row.text())).append(',').append(row.tokens()).append(',')
                    .append(num(row.value())).append(',').append(num(row.logitA())).append(',').append(num(row.logitB())).append(',')
                    .append(quote(row.top().token())).append(',').append(num(row.top().prob())).append('\n');
        return out.toString();
    }

    private static String num(Double v) { return v == null ? "" : String.valueOf(v); }

    private static String quote(String s) { return "\"" + s.replace("\"", "\"\"") + "\""; }
}
