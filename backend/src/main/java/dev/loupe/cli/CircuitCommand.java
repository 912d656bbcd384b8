package dev.loupe.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.circuits.Acdc;
import dev.loupe.circuits.CircuitAnalysis;
import dev.loupe.circuits.CircuitDataset;
import dev.loupe.circuits.CircuitDiscovery;
import dev.loupe.circuits.CircuitRunner;
import dev.loupe.circuits.CircuitTasks;
import dev.loupe.jobs.Progress;
import dev.loupe.model.LoadedModel;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;

@Command(name = "circuit", description = {
        "Circuit discovery (EAP, EAP-IG, ACDC) on a dataset of clean/corrupted pairs, or the exact evaluation of an edge set.",
        "Writes {method, edges: [{from, to, score}], clean_metric, corrupt_metric, faithfulness: [...]}, or with --evaluate {metric}."})
final class CircuitCommand implements java.util.concurrent.Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "model name") String name;

    @ArgGroup(multiplicity = "1") Data data;

    static final class Data {
        @Option(names = "--dataset", paramLabel = "FILE.json", description = "{\"prompts\": [{clean, corrupt, answer, wrong}]} or with clean_tokens, corrupt_tokens, answer_token, wrong_token")
        Path dataset;
        @Option(names = "--task", paramLabel = "NAME", description = "a built-in task instead: ${COMPLETION-CANDIDATES}", completionCandidates = Tasks.class)
        String task;
    }

    static final class Tasks extends java.util.ArrayList<String> { Tasks() { super(CircuitTasks.NAMES); } }

    @Option(names = "--pairs", defaultValue = "32", description = "pairs of a built-in task (default ${DEFAULT-VALUE})") int pairs;
    @Option(names = "--seed", defaultValue = "1", description = "seed of a built-in task (default ${DEFAULT-VALUE})") long seed;
    @Option(names = "--no-bos", description = "do not prepend BOS to text prompts") boolean noBos;
    @Option(names = "--method", defaultValue = "eap-ig", description = "eap, eap-ig or acdc (default ${DEFAULT-VALUE})") String method;
    @Option(names = "--steps", defaultValue = "5", description = "EAP-IG steps (default ${DEFAULT-VALUE})") int steps;
    @Option(names = "--tau", defaultValue = "0.05", description = "ACDC threshold (default ${DEFAULT-VALUE})") double tau;
    @Option(names = "--acdc-metric", defaultValue = "kl", description = "ACDC objective: kl or metric (default ${DEFAULT-VALUE})") String objective;
    @Option(names = "--evaluate", paramLabel = "EDGES.json", description = "exact evaluation of {\"edges\": [\"a0.h1->a1.h2<q>\", ...]} instead of discovery") Path evaluate;
    @Option(names = "--out", required = true, paramLabel = "FILE.json") Path out;
    @Option(names = "--threads", defaultValue = "0", description = "ONNX Runtime threads (default: all cores)") int threads;
    @Mixin ModelsDir models;

    @Override public Integer call() throws IOException {
        LoadedModel model = DumpCommand.openModel(models.resolve(), name);
        if (Files.isDirectory(out)) throw new CliException("--out " + out + " is a directory");
        ObjectMapper json = new ObjectMapper();
        CircuitDataset dataset;
        try {
            dataset = data.task != null
                    ? CircuitTasks.generate(data.task, model.tokenizer(), model.config(), pairs, seed)
                    : CircuitDataset.fromJson(readJson(json, data.dataset, "--dataset"), model.tokenizer(), model.config(), !noBos);
        } catch (IllegalArgumentException e) {
            throw new CliException((data.dataset != null ? data.dataset + ": " : "") + e.getMessage());
        }
        int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        try (CircuitRunner runner = new CircuitRunner(model.weights(), n)) {
            CircuitAnalysis a = new CircuitAnalysis(runner, dataset);
            ObjectNode result;
            long t0 = System.nanoTime();
            if (evaluate != null) {
                JsonNode edges = readJson(json, evaluate, "--evaluate").get("edges");
                if (edges == null || !edges.isArray()) throw new CliException(evaluate + ": expected {\"edges\": [\"SENDER->RECEIVER\", ...]}");
                BitSet set = new BitSet();
                for (JsonNode e : edges) {
                    try {
                        set.set(a.edges().parseEdge(e.asText()));
                    } catch (IllegalArgumentException ex) {
                        throw new CliException(evaluate + ": " + ex.getMessage());
                    }
                }
                CircuitAnalysis.Evaluation ev = a.evaluate(List.of(set), Progress.NONE).get(0);
                result = json.createObjectNode().put("metric", ev.metric()).put("kl", ev.kl())
                        .put("faithfulness", a.faithfulness(ev.metric())).put("edges", set.cardinality())
                        .put("clean_metric", a.cleanMetric()).put("corrupt_metric", a.corruptMetric());
                System.out.printf(Locale.ROOT, "%d edges: metric %.4f (clean %.4f, corrupted %.4f), faithfulness %.3f%n",
                        set.cardinality(), ev.metric(), a.cleanMetric(), a.corruptMetric(), a.faithfulness(ev.metric()));
            } else {
                CircuitDiscovery.Request req;
                try {
                    req = new CircuitDiscovery.Request(CircuitDiscovery.Method.parse(method), steps, tau, Acdc.Objective.parse(objective));
                } catch (IllegalArgumentException e) {
                    throw new CliException(e.getMessage());
                }
                result = CircuitDiscovery.run(a, req, Progress.NONE);
                result.put("model", model.name());
                System.out.printf(Locale.ROOT, "%s on %d pairs: %d edges scored, clean %.4f, corrupted %.4f%s in %.1f s%n", req.method().id, dataset.size(),
                        a.edges().edgeCount(), a.cleanMetric(), a.corruptMetric(),
                        result.has("acdc") ? String.format(Locale.ROOT, "; ACDC keeps %d edges (faithfulness %.3f)",
                                result.get("acdc").get("edges_kept").asInt(), result.get("acdc").get("faithfulness").asDouble()) : "",
                        (System.nanoTime() - t0) / 1e9);
            }
            json.writerWithDefaultPrettyPrinter().writeValue(out.toFile(), result);
            System.out.println("wrote " + out);
        }
        return 0;
    }

    static JsonNode readJson(ObjectMapper json, Path file, String option) {
        try {
            return json.readTree(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new CliException(option + " " + file + ": no such file");
        } catch (IOException e) {
            throw new CliException(option + " " + file + ": not valid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
    }
}
