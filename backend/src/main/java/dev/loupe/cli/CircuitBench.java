package dev.loupe.cli;

import dev.loupe.circuits.Acdc;
import dev.loupe.circuits.CircuitAnalysis;
import dev.loupe.circuits.CircuitDataset;
import dev.loupe.circuits.CircuitRunner;
import dev.loupe.circuits.CircuitTasks;
import dev.loupe.jobs.Progress;
import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.model.LoadedModel;
import dev.loupe.model.Safetensors;
import dev.loupe.model.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;

/**
 * Circuit discovery against PyTorch with hooks and autograd (tools/reference/bench_circuits.py) on the same random
 * GPT-2-small-shaped weights and pairs: EAP-IG scores and the exact evaluation of edge sets, both checked to agree;
 * then ACDC's time on induction-2l and brown-6l.
 */
@Command(name = "circuits", description = "Loupe vs PyTorch hooks + autograd: EAP-IG scores and exact evaluation, GPT-2 small shape; ACDC times.")
final class CircuitBench implements Callable<Integer> {
    @Option(names = "--pairs", defaultValue = "16") int pairs;
    @Option(names = "--tokens", defaultValue = "16") int tokens;
    @Option(names = "--steps", defaultValue = "5") int steps;
    @Option(names = "--sets", defaultValue = "20") int sets;
    @Option(names = "--threads", defaultValue = "2") int threads;
    @Option(names = "--no-acdc", description = "skip the ACDC timings") boolean noAcdc;
    @Option(names = "--reference", defaultValue = "tools/reference/bench_circuits.py") Path reference;
    @Option(names = "--python", defaultValue = "/usr/bin/python3") String python;
    @Mixin ModelsDir models;

    @Override public Integer call() throws Exception {
        if (!Files.isRegularFile(reference)) throw new CliException("PyTorch reference script not found: " + reference);
        GptConfig config = GptConfig.small();
        GptWeights weights = GptWeights.random(config, 0, false);
        Random rnd = new Random(14);
        List<CircuitDataset.Pair> list = new ArrayList<>();
        for (int p = 0; p < pairs; p++) {
            int[] clean = new int[tokens], corrupt = new int[tokens];
            for (int t = 0; t < tokens; t++) clean[t] = corrupt[t] = rnd.nextInt(config.dVocab());
            for (int t = 0; t < tokens / 2; t++) corrupt[t] = rnd.nextInt(config.dVocab());
            list.add(new CircuitDataset.Pair(clean, corrupt, rnd.nextInt(config.dVocab()), rnd.nextInt(config.dVocab())));
        }
        CircuitDataset data = new CircuitDataset(list);
        System.out.printf(Locale.ROOT, "GPT-2 small shape, random weights; %d pairs of %d tokens; EAP-IG %d steps; %d edge sets; %d threads per engine; load %s%n",
                pairs, tokens, steps, sets, threads, load());

        double loupeScores, loupeEval;
        float[] scores;
        List<BitSet> edgeSets = new ArrayList<>();
        List<CircuitAnalysis.Evaluation> ev;
        try (CircuitRunner runner = new CircuitRunner(weights, threads)) {
            // warm-up: compile the sessions on a one-pair dataset
            CircuitAnalysis warm = new CircuitAnalysis(runner, new CircuitDataset(list.subList(0, 1)));
            warm.eap();
            warm.evaluate(List.of(warm.allEdges()), Progress.NONE);
            long t0 = System.nanoTime();
            CircuitAnalysis a = new CircuitAnalysis(runner, data);
            scores = a.eapIg(steps, Progress.NONE);
            loupeScores = (System.nanoTime() - t0) / 1e9;
            int e = a.edges().edgeCount();
            for (int s = 0; s < sets; s++) {
                BitSet b = new BitSet();
                double keep = (s + 0.5) / sets;
                for (int i = 0; i < e; i++) if (rnd.nextDouble() < keep) b.set(i);
                edgeSets.add(b);
            }
            t0 = System.nanoTime();
            ev = a.evaluate(edgeSets, Progress.NONE);
            loupeEval = (System.nanoTime() - t0) / 1e9;
        }

        Path in = Files.createTempFile("loupe-circuits-bench-", ".safetensors"), out = Files.createTempFile("loupe-circuits-bench-out-", ".safetensors");
        double torchScores, torchEval, scoreErr = 0, maxScore = 0, evalErr = 0;
        try {
            Map<String, Tensor> t = new LinkedHashMap<>(weights.tensors());
            float[] clean = new float[pairs * tokens], corrupt = new float[pairs * tokens], len = new float[pairs], ans = new float[pairs], wrong = new float[pairs];
            for (int p = 0; p < pairs; p++) {
                for (int i = 0; i < tokens; i++) {
                    clean[p * tokens + i] = list.get(p).clean()[i];
                    corrupt[p * tokens + i] = list.get(p).corrupt()[i];
                }
                len[p] = tokens;
                ans[p] = list.get(p).answer();
                wrong[p] = list.get(p).wrong();
            }
            t.put("c.clean", new Tensor(clean, pairs, tokens));
            t.put("c.corrupt", new Tensor(corrupt, pairs, tokens));
            t.put("c.lengths", new Tensor(len, pairs));
            t.put("c.answer", new Tensor(ans, pairs));
            t.put("c.wrong", new Tensor(wrong, pairs));
            float[] setData = new float[sets * scores.length];
            for (int s = 0; s < sets; s++) for (int i = edgeSets.get(s).nextSetBit(0); i >= 0; i = edgeSets.get(s).nextSetBit(i + 1)) setData[s * scores.length + i] = 1;
            t.put("c.sets", new Tensor(setData, sets, scores.length));
            Safetensors.write(in, t, Map.of("config", config.toJson().toString(), "steps", String.valueOf(steps)));
            Process p = new ProcessBuilder(python, reference.toString(), "--input", in.toString(), "--out", out.toString(), "--threads", String.valueOf(threads))
                    .redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) throw new CliException("PyTorch reference failed:\n" + log);
            try (Safetensors st = Safetensors.open(out)) {
                torchScores = Double.parseDouble(st.metadata().get("scores_s"));
                torchEval = Double.parseDouble(st.metadata().get("eval_s"));
                float[] ts = st.read("c.scores").data(), tm = st.read("c.set_metric").data();
                for (int i = 0; i < scores.length; i++) {
                    scoreErr = Math.max(scoreErr, Math.abs(ts[i] - scores[i]));
                    maxScore = Math.max(maxScore, Math.abs(ts[i]));
                }
                for (int s = 0; s < sets; s++) evalErr = Math.max(evalErr, Math.abs(tm[s] - ev.get(s).metric()));
            }
        } finally {
            Files.deleteIfExists(in);
            Files.deleteIfExists(out);
        }
        System.out.printf(Locale.ROOT, "%-36s %10s %10s %8s%n", "part", "Loupe s", "PyTorch s", "speedup");
        System.out.printf(Locale.ROOT, "%-36s %10.2f %10.2f %7.2fx%n", "EAP-IG scores, " + steps + " steps (" + scores.length + " edges)", loupeScores, torchScores, torchScores / loupeScores);
        System.out.printf(Locale.ROOT, "%-36s %10.2f %10.2f %7.2fx%n", "exact evaluation of " + sets + " edge sets", loupeEval, torchEval, torchEval / loupeEval);
        System.out.printf(Locale.ROOT, "agreement: max |score difference| %.2e relative to the largest score; max |metric difference| %.2e%n",
                scoreErr / Math.max(1e-30, maxScore), evalErr);
        if (!noAcdc) {
            acdc("induction-2l", "induction", 32);
            acdc("brown-6l", "agreement", 16);
        }
        System.out.printf(Locale.ROOT, "circuits-bench: speedup_vs_torch=%.2f%n", (torchScores + torchEval) / (loupeScores + loupeEval));
        return 0;
    }

    private void acdc(String model, String task, int n) {
        Path dir = models.resolve().resolve(model);
        if (!Files.isDirectory(dir)) {
            System.out.println("ACDC on " + model + ": model not found, skipped");
            return;
        }
        LoadedModel m = DumpCommand.openModel(models.resolve(), model);
        try (CircuitRunner r = new CircuitRunner(m.weights(), threads)) {
            CircuitAnalysis a = new CircuitAnalysis(r, CircuitTasks.generate(task, m.tokenizer(), m.config(), n, 1));
            long t0 = System.nanoTime();
            Acdc.Result res = Acdc.run(a, 0.05, Acdc.Objective.KL, Progress.NONE);
            double s = (System.nanoTime() - t0) / 1e9;
            double f = a.faithfulness(a.evaluate(List.of(res.kept()), Progress.NONE).get(0).metric());
            System.out.printf(Locale.ROOT, "ACDC (KL, tau 0.05) on %s, task %s, %d pairs: keeps %d of %d edges (faithfulness %.3f), %d evaluations in %.1f s%n",
                    model, task, n, res.kept().cardinality(), a.edges().edgeCount(), f, res.evaluations(), s);
        }
    }

    static String load() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+")[0];
        } catch (Exception e) {
            return "unknown";
        }
    }
}
