package dev.loupe.service;

import dev.loupe.analysis.Activations;
import dev.loupe.analysis.TokenInfo;
import dev.loupe.api.ApiException;
import dev.loupe.hooks.HookPoint;
import dev.loupe.model.Safetensors;
import dev.loupe.tokenizer.Tokenizer;
import jakarta.enterprise.context.ApplicationScoped;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Raw access for scripts: the tokenizer both ways, the hook names, and one hook's activation for a prompt. Not
 * cached (activations are big and cheap to recompute); computations go through the scheduler like the explorer's.
 */
@ApplicationScoped
public class Inspector {
    /** Activations answered as JSON at most this many values; bigger ones only as safetensors. */
    public static final int MAX_JSON_VALUES = 4_000_000;

    public record Tokens(List<Integer> ids, List<TokenInfo> tokens, String text) {}

    public record Hook(String name, int layer, List<String> axes) {}

    private final Explorer explorer;
    private final ComputeScheduler scheduler;

    public Inspector(Explorer explorer, ComputeScheduler scheduler) {
        this.explorer = explorer;
        this.scheduler = scheduler;
    }

    /** Text → ids (BOS prepended, as every analysis runs it) and their display strings. */
    public Tokens tokenize(String model, String text) {
        int[] ids = explorer.tokenize(model, text);
        return tokens(model, ids);
    }

    /** Ids → text; every id must be in the vocabulary. */
    public Tokens detokenize(String model, List<Integer> ids) {
        if (ids == null || ids.isEmpty()) throw ApiException.badRequest("no ids given: pass ids=1,2,3");
        int vocab = explorer.config(model).dVocab();
        for (int id : ids)
            if (id < 0 || id >= vocab) throw ApiException.badRequest("id " + id + " is outside the vocabulary of " + model + " (0–" + (vocab - 1) + ")");
        return tokens(model, ids.stream().mapToInt(Integer::intValue).toArray());
    }

    private Tokens tokens(String model, int[] ids) {
        Tokenizer t = explorer.tokenizer(model);
        return new Tokens(java.util.Arrays.stream(ids).boxed().toList(), explorer.subject(model).tokens(ids), t.decode(ids));
    }

    public List<Hook> hooks(String model) {
        return Activations.hooks(explorer.subject(model)).stream()
                .map(h -> new Hook(h.name(), h.layer(), h.axes().stream().map(a -> a.name().toLowerCase(java.util.Locale.ROOT)).toList()))
                .toList();
    }

    public Activations.Result activation(String model, String text, String hook, String client) {
        if (hook == null || hook.isBlank()) throw ApiException.badRequest("no hook given: pass hook=NAME (the hooks endpoint lists them)");
        int[] ids = explorer.tokenize(model, text);
        try {
            return scheduler.run(client, null, Explorer.forwardBytes(explorer.config(model), 1, ids.length, 0),
                    () -> Activations.compute(explorer.subject(model), ids, hook));
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        }
    }

    /** The activation as a safetensors file's bytes: the tensor under the hook's name, the prompt's ids in the metadata. */
    public static byte[] safetensors(Activations.Result r, String model, List<Integer> ids) {
        try {
            Path tmp = Files.createTempFile("loupe-activation", ".safetensors");
            try {
                Map<String, String> meta = new LinkedHashMap<>();
                meta.put("model", model);
                meta.put("ids", ids.toString());
                meta.put("axes", String.join(",", r.axes()));
                Safetensors.write(tmp, Map.of(r.hook(), r.tensor()), meta);
                return Files.readAllBytes(tmp);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** "1, 2,3" → [1, 2, 3]; anything else is a 400 naming the bad entry. */
    public static List<Integer> parseIds(String ids) {
        if (ids == null || ids.isBlank()) return List.of();
        List<Integer> out = new java.util.ArrayList<>();
        for (String s : ids.split(",")) {
            try {
                out.add(Integer.parseInt(s.trim()));
            } catch (NumberFormatException e) {
                throw ApiException.badRequest("ids must be whole numbers separated by commas, got '" + s.trim() + "'");
            }
        }
        return out;
    }
}
