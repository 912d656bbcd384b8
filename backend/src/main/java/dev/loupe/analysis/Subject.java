package dev.loupe.analysis;

import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.runtime.Engine;
import dev.loupe.tokenizer.Tokenizer;

/** The model an analysis looks at: its engine, its weights (for unembedding directions) and its tokenizer. */
public record Subject(Engine engine, GptWeights weights, Tokenizer tokenizer) {
    public GptConfig config() { return weights.config(); }

    /** A token as shown: its id, its text with visible whitespace, and its raw text. */
    public TokenInfo token(int id) {
        return new TokenInfo(id, tokenizer.display(id, true), tokenizer.display(id, false));
    }

    public java.util.List<TokenInfo> tokens(int[] ids) {
        java.util.List<TokenInfo> out = new java.util.ArrayList<>(ids.length);
        for (int id : ids) out.add(token(id));
        return out;
    }
}
