package dev.loupe.cli;

import ai.onnxruntime.OnnxTensor;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.loupe.grad.Backprop;
import dev.loupe.jobs.Progress;
import dev.loupe.model.LoadedModel;
import dev.loupe.patching.ActivationPatching;
import dev.loupe.patching.PatchMetric;
import dev.loupe.patching.PatchMode;
import dev.loupe.patching.PatchingPanels;
import dev.loupe.patching.PatchingResult;
import dev.loupe.patching.PromptPair;
import dev.loupe.patching.Sweep;
import dev.loupe.runtime.Engine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "patch", description = "Activation patching: sweep one patch per index over a clean/corrupted prompt pair and write the metric as JSON.")
final class PatchCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "model name") String name;

    @ArgGroup(exclusive = false, multiplicity = "1") Prompts prompts;

    static final class Prompts {
        @Option(names = "--clean", description = "clean prompt text") String clean;
        @Option(names = "--corrupt", description = "corrupted prompt text") String corrupt;
        @Option(names = "--clean-tokens", paramLabel = "ID,ID,...", description = "clean token ids, used as given") String cleanTokens;
        @Option(names = "--corrupt-tokens", paramLabel = "ID,ID,...", description = "corrupted token ids, used as given") String corruptTokens;
    }

    @Option(names = "--metric", defaultValue = "logit_diff:-1",
            description = "logit_diff:POS[:A:B], logprob:POS[:A], prob:POS[:A], kl:POS or loss; A/B default to the clean and corrupted top tokens (default ${DEFAULT-VALUE})")
    String metric;
    @Option(names = "--sweep", required = true, description = "resid_pre|resid_mid|resid_post|attn_out|mlp_out, head_out|head_q|head_k|head_v|head_pattern[_by_pos], neurons:L[:P], every_block|every_head|every_head_by_pos, path:logits or path:q|k|v:L.H[,L.H…] from sender heads, path_mlp:… from sender MLPs, either ending :frozen to freeze the MLPs")
    String sweep;
    @Option(names = "--direction", defaultValue = "denoise", description = "denoise, noise, or an ablation of the clean run: zero, mean, resample (default ${DEFAULT-VALUE})")
    String direction;
    @Option(names = "--mean-text", paramLabel = "TEXT",
            description = "with --direction mean: take the mean over this text's positions (its own run) instead of the clean prompt's")
    String meanText;
    @Option(names = "--attribution", description = "also write the attribution-patching estimate of every index") boolean attribution;
    @Option(names = "--out", required = true, paramLabel = "FILE.json") Path out;
    @Mixin ModelsDir models;
    @Mixin PromptIds prompt;

    @Override
    public Integer call() throws Exception {
        LoadedModel model = DumpCommand.openModel(models.resolve(), name);
        int[] clean = ids(model, prompts.clean, prompts.cleanTokens, "--clean");
        int[] corrupt = ids(model, prompts.corrupt, prompts.corruptTokens, "--corrupt");
        if (Files.isDirectory(out)) throw new CliException("--out " + out + " is a directory");
        try (Engine engine = Engine.create(model.weights())) {
            PromptPair pair = new PromptPair(clean, corrupt);
            boolean panel = PatchingPanels.isPanel(sweep);
            List<Sweep> sweeps = panel ? PatchingPanels.components(sweep, model.config()) : List.of(Sweep.parse(sweep, model.config()));
            PatchMode mode = PatchMode.parse(direction);
            for (Sweep s : sweeps) ActivationPatching.check(model.config(), List.of(pair), PatchMetric.parse("kl:-1"), s);
            PatchMetric m = PatchMetric.resolve(metric, engine, pair);
            int[] mean = null;
            if (meanText != null) {
                if (mode != PatchMode.MEAN) throw new CliException("--mean-text is used only by --direction mean");
                if (meanText.isBlank()) throw new CliException("--mean-text is empty: give a text to take the mean over");
                mean = prompt.of(model, meanText, null, "--mean-text", "mean text");
                for (Sweep s : sweeps) ActivationPatching.checkMeanText(model.config(), s, mean);
            }
            long t0 = System.nanoTime();
            PatchingResult r;
            long rows;
            Backprop bp = attribution ? new Backprop(model.config()) : null;
            Map<String, OnnxTensor> feeds = bp == null ? null : bp.weightFeeds(model.weights());
            try {
                if (panel) {
                    r = PatchingPanels.run(engine, List.of(pair), List.of(m), sweep, mode, mean, 0, Progress.NONE, bp, feeds);
                    rows = PatchingPanels.rows(sweep, model.config(), clean.length, 1);
                } else {
                    ActivationPatching run = ActivationPatching.prepare(engine, List.of(pair), List.of(m), sweeps.get(0), mode, mean);
                    r = run.sweep(0, Progress.NONE);
                    if (bp != null) r = new PatchingResult(r.sweep(), r.mode(), r.metric(), r.axes(), r.shape(), r.values(), r.cleanMetric(),
                            r.corruptMetric(), run.attribution(bp, feeds));
                    rows = run.rows();
                }
            } finally {
                if (feeds != null) feeds.values().forEach(OnnxTensor::close);
                if (bp != null) bp.close();
            }
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("model", model.name());
            json.put("sweep", r.sweep());
            json.put("axes", r.axes());
            json.put("shape", r.shape());
            json.put("direction", r.mode());
            json.put("metric", r.metric());
            json.put("clean_tokens", clean);
            json.put("corrupt_tokens", corrupt);
            json.put("values", PatchingResult.nested(r.values(), r.shape()));
            json.put("clean_metric", r.cleanMetric());
            json.put("corrupt_metric", r.corruptMetric());
            if (mean != null) json.put("mean_text_tokens", mean);
            if (panel) json.put("components", sweeps.stream().map(Sweep::name).toList());
            if (r.attribution() != null) json.put("attribution", PatchingResult.nested(r.attribution(), r.shape()));
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.toFile(), json);
            System.out.printf("%s %s (%s, %s): %d patched runs in %.2f s; clean %.4f, corrupted %.4f -> %s%n", r.sweep(), r.mode(), r.metric(),
                    String.join("×", r.axes()), rows, (System.nanoTime() - t0) / 1e9, r.cleanMetric(), r.corruptMetric(), out);
        } catch (IllegalArgumentException e) {
            throw new CliException(e.getMessage());
        }
        return 0;
    }

    private int[] ids(LoadedModel model, String text, String tokens, String option) {
        if ((text == null) == (tokens == null)) throw new CliException("give " + option + " TEXT or " + option + "-tokens IDS (one of them)");
        return prompt.of(model, text, tokens, option + "-tokens", option.equals("--clean") ? "clean prompt" : "corrupted prompt");
    }
}
