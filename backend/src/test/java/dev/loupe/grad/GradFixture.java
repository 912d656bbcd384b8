package dev.loupe.grad;

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

/** The gradient part of a golden fixture of the PyTorch reference (layout: tools/reference/README.md). */
record GradFixture(String name, GptConfig config, GptWeights weights, int[] prompt, List<String> metrics,
                   Map<String, Tensor> grads) {

    static final List<String> FILES = List.of("odd_3l", "f16_1l", "attnonly_2l");

    static GradFixture load(String name) {
        try (Safetensors st = Safetensors.open(Path.of(GradFixture.class.getResource("/fixtures/" + name + ".safetensors").toURI()))) {
            ObjectMapper json = new ObjectMapper();
            GptConfig config = GptConfig.fromJson(json.readTree(st.metadata().get("config")));
            Map<String, Tensor> named = new LinkedHashMap<>();
            Map<String, Tensor> grads = new LinkedHashMap<>();
            for (String t : st.names()) {
                if (t.startsWith("grad[")) grads.put(t, st.read(t));
                else if (!t.matches("p\\d+\\..*")) named.put(t, st.read(t));
            }
            long[] ids = st.readLongs("p0.input_ids");
            int[] prompt = new int[ids.length];
            for (int i = 0; i < ids.length; i++) prompt[i] = (int) ids[i];
            List<String> metrics = new ArrayList<>();
            json.readTree(st.metadata().get("metrics")).forEach(n -> metrics.add(n.asText()));
            return new GradFixture(name, config, GptWeights.of(config, named), prompt, metrics, grads);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
