package dev.loupe.patching;

/** A clean and a corrupted prompt of the same token length (BOS included where wanted). */
public record PromptPair(int[] clean, int[] corrupt) {
    public PromptPair {
        clean = clean.clone();
        corrupt = corrupt.clone();
    }
}
