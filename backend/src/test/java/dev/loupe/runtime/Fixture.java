package dev.loupe.runtime;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.model.Safetensors;
import dev.loupe.model.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A golden fixture file of the PyTorch reference (layout: tools/reference/README.md). */
record Fixture(String name, GptConfig config, GptWeights weights, List<int[]> prompts, List<Map<String, Tensor>> expected) {

    static final List<String> FILES = List.of("gpt2vocab_2l", "odd_3l", "f16_1l", "attnonly_2l");

    static Path path(String name) {
        try {
            return Path.of(Fixture.class.getResource("/fixtures/" + name + ".safetensors").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Fixture load(String name) {
        Path file = path(name);
        try (Safetensors st = Safetensors.open(file)) {
            GptConfig config = GptConfig.fromJson(new ObjectMapper().readTree(st.metadata().get("config")));
            Map<String, Tensor> named = new LinkedHashMap<>();
            for (String t : st.names())
                if (!t.matches("p\\d+\\..*") && !t.startsWith("grad[")) named.put(t, st.read(t));
            GptWeights weights = GptWeights.of(config, named);
            int n = Integer.parseInt(st.metadata().get("prompts"));
            List<int[]> prompts = new ArrayList<>();
            List<Map<String, Tensor>> expected = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String prefix = "p" + i + ".";
                long[] ids = st.readLongs(prefix + "input_ids");
                int[] tokens = new int[ids.length];
                for (int k = 0; k < ids.length; k++) tokens[k] = (int) ids[k];
                prompts.add(tokens);
                Map<String, Tensor> m = new LinkedHashMap<>();
                for (String t : st.names())
                    if (t.startsWith(prefix) && !t.equals(prefix + "input_ids")) m.put(t.substring(prefix.length()), st.read(t));
                expected.add(m);
            }
            return new Fixture(name, config, weights, prompts, expected);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
