package dev.loupe.analysis;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.model.Safetensors;
import dev.loupe.model.Tensor;
import dev.loupe.runtime.Engine;
import dev.loupe.tokenizer.Gpt2Tokenizer;
import dev.loupe.tokenizer.ListTokenizer;
import dev.loupe.tokenizer.Tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A golden fixture of the PyTorch reference (tools/reference/README.md): weights, prompts and every hook of each
 * prompt as computed in float64 by PyTorch, with an engine on the weights.
 */
record Golden(GptConfig config, GptWeights weights, List<int[]> prompts, List<Map<String, Tensor>> hooks) {

    static Golden load(String name) {
        try (Safetensors st = Safetensors.open(Path.of(Golden.class.getResource("/fixtures/" + name + ".safetensors").toURI()))) {
            GptConfig config = GptConfig.fromJson(new ObjectMapper().readTree(st.metadata().get("config")));
            Map<String, Tensor> weights = new LinkedHashMap<>();
            for (String t : st.names()) if (!t.matches("p\\d+\\..*") && !t.startsWith("grad[")) weights.put(t, st.read(t));
            int n = Integer.parseInt(st.metadata().get("prompts"));
            List<int[]> prompts = new ArrayList<>();
            List<Map<String, Tensor>> hooks = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String prefix = "p" + i + ".";
                long[] ids = st.readLongs(prefix + "input_ids");
                int[] tokens = new int[ids.length];
                for (int k = 0; k < ids.length; k++) tokens[k] = (int) ids[k];
                prompts.add(tokens);
                Map<String, Tensor> m = new LinkedHashMap<>();
                for (String t : st.names())
                    if (t.startsWith(prefix) && !t.equals(prefix + "input_ids")) m.put(t.substring(prefix.length()), st.read(t));
                hooks.add(m);
            }
            return new Golden(config, GptWeights.of(config, weights), prompts, hooks);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A tokenizer for the fixture's vocabulary: GPT-2's, or made-up words t0, t1, ... */
    static Tokenizer tokenizer(int vocab) {
        if (vocab == Gpt2Tokenizer.VOCAB_SIZE) return Gpt2Tokenizer.get();
        List<String> words = new ArrayList<>();
        for (int i = 0; i < vocab; i++) words.add("t" + i);
        return new ListTokenizer(words);
    }

    Subject subject(Engine engine) { return new Subject(engine, weights, tokenizer(config.dVocab())); }
}
