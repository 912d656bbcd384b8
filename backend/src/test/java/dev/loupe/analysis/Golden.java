package dev.loupe.analysis;

import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.model.Tensor;
import dev.loupe.runtime.Engine;
import dev.loupe.runtime.Fixture;
import dev.loupe.tokenizer.Gpt2Tokenizer;
import dev.loupe.tokenizer.ListTokenizer;
import dev.loupe.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A golden fixture of the PyTorch reference (tools/reference/README.md): weights, prompts and every hook of each
 * prompt as computed in float64 by PyTorch, with an engine on the weights.
 */
record Golden(GptConfig config, GptWeights weights, List<int[]> prompts, List<Map<String, Tensor>> hooks) {

    static Golden load(String name) {
        Fixture f = Fixture.load(name);
        return new Golden(f.config(), f.weights(), f.prompts(), f.expected());
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
