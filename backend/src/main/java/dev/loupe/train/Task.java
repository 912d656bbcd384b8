package dev.loupe.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.grad.Backprop;
import dev.loupe.grad.GradGraph;
import dev.loupe.grad.Metric;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** What a model is trained on: its batches, its evaluation and what its card says about the data. */
public interface Task {

    /** One training batch: [rows, len] tokens and the loss ports. */
    record StepBatch(int rows, int len, int[] tokens, Metric.Ports ports, long scoredTokens) {}

    /** Runs graphs with the current weights. */
    interface Evaluator {
        Backprop.Result run(GradGraph.Spec spec, int[] tokens, Metric.Ports ports);
    }

    /** The batch of 0-based step {@code step}: a function of the recipe's seed and the step alone, so runs resume exactly. */
    StepBatch batch(long step);

    /** Named figures (e.g. held-out loss, test accuracy), in a stable order. */
    Map<String, Double> evaluate(Evaluator e);

    /** The figure the progress line shows beside the training loss. */
    String headline();

    /** The manifest's tokenizer spec. */
    ObjectNode tokenizer();

    /** A tokenizer spec for a task's own vocabulary: token id i is {@code vocab.get(i)}. */
    static ObjectNode listTokenizer(List<String> vocab) {
        ObjectNode t = JsonNodeFactory.instance.objectNode();
        t.put("type", "list");
        vocab.forEach(t.putArray("vocab")::add);
        return t;
    }

    /** The first position whose prediction the loss scores (the manifest's {@code scored_after}); 0: every position. */
    default int scoredAfter() { return 0; }

    /** Markdown for the card: what data the model saw. */
    String dataDescription();

    /** Extra Markdown for the card after training (tables of scores, baselines); may run more evaluations. */
    default String report(Evaluator e, Map<String, Double> finalEval) { return ""; }

    static Task create(Recipe recipe, Path root) throws IOException {
        JsonNode t = recipe.task();
        return switch (t.path("type").asText()) {
            case "brown" -> new BrownTask(recipe, root.resolve(t.path("dir").asText("data/corpora/brown")));
            case "modadd" -> new ModAddTask(recipe);
            case "induction" -> new InductionTask(recipe);
            default -> throw new IllegalArgumentException("unknown task type '" + t.path("type").asText() + "' (brown, modadd, induction)");
        };
    }
}
