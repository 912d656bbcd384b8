package dev.loupe.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;

/** Builds the tokenizer a model manifest names: {@code {"type":"gpt2"}} or {@code {"type":"list","vocab":[...]}}. */
public final class Tokenizers {
    private Tokenizers() {}

    public static Tokenizer fromSpec(JsonNode spec) {
        String type = spec == null || spec.isMissingNode() ? "gpt2" : spec.path("type").asText("gpt2");
        return switch (type) {
            case "gpt2" -> Gpt2Tokenizer.get();
            case "list" -> {
                JsonNode v = spec.path("vocab");
                if (!v.isArray() || v.isEmpty()) throw new IllegalArgumentException("list tokenizer needs a non-empty 'vocab' array");
                List<String> vocab = new ArrayList<>(v.size());
                v.forEach(n -> vocab.add(n.asText()));
                yield new ListTokenizer(vocab);
            }
            default -> throw new IllegalArgumentException("unknown tokenizer type '" + type + "'");
        };
    }
}
