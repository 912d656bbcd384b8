package dev.loupe.neurons;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** A neuron-index fixture of tools/reference/neurons_reference.py: weights, corpus and expected values. */
record NeuronFixture(String name, GptConfig config, GptWeights weights, JsonNode expected, IndexCorpus corpus) {

    static Path resource(String file) {
        try {
            return Path.of(NeuronFixture.class.getResource("/fixtures/" + file).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static NeuronFixture load(String name) {
        try {
            JsonNode json = new ObjectMapper().readTree(resource("neurons_" + name + ".json").toFile());
            GptConfig config = GptConfig.fromJson(json.get("config"));
            GptWeights weights = GptWeights.load(resource("neurons_" + name + ".safetensors"), config);
            List<String> tagNames = null, tagClass = null;
            if (!json.path("tagNames").isNull()) {
                tagNames = new ArrayList<>();
                tagClass = new ArrayList<>();
                for (JsonNode t : json.get("tagNames")) tagNames.add(t.asText());
                for (JsonNode t : json.get("tagClass")) tagClass.add(t.asText());
            }
            IndexCorpus corpus = new IndexCorpus("fixture-" + name, docs(json.get("docs")), docs(json.get("scoring")), tagNames, tagClass);
            return new NeuronFixture(name, config, weights, json, corpus);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<IndexCorpus.Doc> docs(JsonNode list) {
        List<IndexCorpus.Doc> out = new ArrayList<>();
        for (JsonNode d : list) {
            int[] tokens = ints(d.get("tokens"));
            int[] tags = d.path("tags").isNull() ? null : ints(d.get("tags"));
            out.add(new IndexCorpus.Doc(d.get("id").asText(), tokens, tags));
        }
        return out;
    }

    static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }

    NeuronIndexer.Options options() {
        return NeuronIndexer.Options.defaults().withTop(expected.get("top").asInt())
                .withMinTokenCount(expected.get("minTokenCount").asInt())
                .withBatch(3);
    }

    NeuronIndexer.Options optionsWithBands() {
        NeuronIndexer.Options o = options();
        return new NeuronIndexer.Options(o.top(), expected.get("bandExamples").asInt(), true, expected.get("seed").asLong(),
                o.batch(), o.minTokenCount(), o.checkpointSeconds());
    }

    int bos() { return expected.get("bos").asInt(); }
}
