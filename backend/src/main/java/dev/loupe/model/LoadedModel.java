package dev.loupe.model;

import dev.loupe.tokenizer.Tokenizer;
import dev.loupe.tokenizer.Tokenizers;

import java.io.IOException;

/** A model folder read into memory: its config, validated weights and tokenizer. */
public record LoadedModel(ModelFolder folder, GptWeights weights, Tokenizer tokenizer) {

    public GptConfig config() { return weights.config(); }
    public String name() { return folder.name(); }

    public static LoadedModel load(ModelFolder folder) throws ModelFolderException {
        Tokenizer tokenizer;
        try {
            tokenizer = Tokenizers.fromSpec(folder.tokenizerSpec());
        } catch (IllegalArgumentException e) {
            throw new ModelFolderException(ModelFolder.MANIFEST + ": " + e.getMessage());
        }
        if (tokenizer.vocabSize() > folder.config().dVocab())
            throw new ModelFolderException("tokenizer has " + tokenizer.vocabSize() + " tokens but the model's vocab_size is " + folder.config().dVocab());
        try {
            return new LoadedModel(folder, GptWeights.load(folder.weightsFile(), folder.config()), tokenizer);
        } catch (IOException e) {
            throw new ModelFolderException(e.getMessage(), e);
        }
    }
}
