package dev.loupe.cli;

import dev.loupe.grad.Gradients;
import dev.loupe.hooks.HookPoint;
import dev.loupe.model.LoadedModel;
import dev.loupe.model.ModelFolder;
import dev.loupe.model.ModelFolderException;
import dev.loupe.model.Safetensors;
import dev.loupe.model.Tensor;
import dev.loupe.runtime.Engine;
import dev.loupe.runtime.RunRequest;
import dev.loupe.runtime.RunResult;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import java.util.stream.Stream;

@Command(name = "dump", description = "Run a model on one prompt and write the logits and hooks as F32 safetensors.")
final class DumpCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "NAME", description = "model name") String name;

    @ArgGroup(multiplicity = "1") Input input;

    static final class Input {
        @Option(names = "--text", description = "prompt text (BOS is prepended unless --no-bos)") String text;
        @Option(names = "--tokens", paramLabel = "ID,ID,...", description = "token ids, used as given") String tokens;
    }

    @Option(names = "--hooks", paramLabel = "REGEX", description = "hooks whose names contain a match (default: all)") String hooks;
    @Option(names = "--grad", paramLabel = "METRIC",
            description = "also write grad:<hook>, the gradient of METRIC (loss, logit_diff:POS:A:B or logprob:POS:A) at every selected hook")
    String grad;
    @Option(names = "--out", required = true, paramLabel = "FILE.safetensors") Path out;
    @Mixin ModelsDir models;
    @Mixin PromptIds prompt;

    @Override
    public Integer call() throws IOException {
        LoadedModel model = openModel(models.resolve(), name);
        int[] ids = prompt.of(model, input.text, input.tokens, "--tokens", input.text != null ? "text" : "token list");
        if (Files.isDirectory(out)) throw new CliException("--out " + out + " is a directory");

        try (Engine engine = Engine.create(model.weights())) {
            Set<String> selected = (hooks == null ? engine.hooks().all() : engine.hooks().matchingRegex(hooks))
                    .stream().map(HookPoint::name).collect(Collectors.toSet());
            RunResult r = engine.run(RunRequest.of(ids).cache(selected::contains));
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("logits", r.logits());
            tensors.putAll(r.cache());
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("model", model.name());
            meta.put("tokens", Arrays.toString(ids));
            if (input.text != null) meta.put("text", input.text);
            meta.put("config", model.config().toJson().toString());
            if (grad != null) {
                Gradients.HookGradients g = Gradients.forHooks(model.weights(), ids, grad, selected);
                tensors.putAll(g.tensors()); // already named grad:<hook>
                meta.put("grad_metric", grad);
                meta.put("grad_metric_value", Float.toString(g.value()));
            }
            Safetensors.write(out, tensors, meta);
            System.out.println("wrote logits and " + r.cache().size() + " hooks" + (grad == null ? "" : " with their gradients of " + grad)
                    + " for " + ids.length + " tokens to " + out);
        } catch (IllegalArgumentException e) {
            throw new CliException(e.getMessage());
        }
        return 0;
    }

    static LoadedModel openModel(Path dir, String name) {
        Path folder = dir.resolve(name);
        if (!Files.isDirectory(folder)) {
            String known;
            try (Stream<Path> s = Files.isDirectory(dir) ? Files.list(dir) : Stream.empty()) {
                List<String> names = s.filter(p -> Files.isRegularFile(p.resolve(ModelFolder.MANIFEST)))
                        .map(p -> p.getFileName().toString()).sorted().toList();
                known = names.isEmpty() ? "there are none" : "known: " + String.join(", ", names);
            } catch (IOException e) {
                known = "cannot list it";
            }
            throw new CliException("unknown model '" + name + "' in " + dir + " (" + known + ")");
        }
        try {
            return ModelFolder.open(folder).load();
        } catch (ModelFolderException e) {
            throw new CliException("model '" + name + "': " + e.getMessage());
        }
    }
}
