package dev.loupe.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;

/**
 * A toy-model vocabulary given as a list of strings: text is split on whitespace and each word looked up.
 * The BOS id is that of {@code <bos>} (or {@code <|endoftext|>}, {@code <s>}) when the list has one.
 */
public final class ListTokenizer implements Tokenizer {
    private static final List<String> BOS_NAMES = List.of("<bos>", "<|endoftext|>", "<s>", "BOS");

    private final List<String> vocab;
    private final Map<String, Integer> ids = new HashMap<>();
    private final int bos;

    public ListTokenizer(List<String> vocab) {
        if (vocab.isEmpty()) throw new IllegalArgumentException("vocabulary is empty");
        this.vocab = List.copyOf(vocab);
        for (int i = 0; i < vocab.size(); i++) {
            String t = vocab.get(i);
            if (t.isEmpty() || t.chars().anyMatch(Character::isWhitespace))
                throw new IllegalArgumentException("vocabulary entry " + i + " ('" + t + "') is empty or contains whitespace");
            if (ids.putIfAbsent(t, i) != null) throw new IllegalArgumentException("vocabulary entry '" + t + "' appears twice");
        }
        int b = -1;
        for (String name : BOS_NAMES) {
            if (ids.containsKey(name)) {
                b = ids.get(name);
                break;
            }
        }
        this.bos = b;
    }

    public List<String> vocab() { return vocab; }

    @Override public int vocabSize() { return vocab.size(); }
    @Override public int bosId() { return bos; }

    @Override
    public int[] encodeText(String text) {
        String trimmed = text.strip();
        if (trimmed.isEmpty()) return new int[0];
        String[] words = trimmed.split("\\s+");
        int[] out = new int[words.length];
        for (int i = 0; i < words.length; i++) {
            Integer id = ids.get(words[i]);
            if (id == null) throw new TokenizerException("unknown token '" + words[i] + "' (word " + (i + 1) + "); the vocabulary is " + describe());
            out[i] = id;
        }
        return out;
    }

    /** The vocabulary in a line: "114 words: 0, 1, 2, …, 112, =" (every word when there are few). */
    public String describe() {
        int n = vocab.size();
        String words = n <= 8 ? String.join(", ", vocab)
                : String.join(", ", vocab.subList(0, 3)) + ", …, " + String.join(", ", vocab.subList(n - 2, n));
        return n + " words: " + words;
    }

    @Override
    public String decode(int... tokenIds) {
        checkIds(tokenIds);
        StringJoiner j = new StringJoiner(" ");
        for (int id : tokenIds) j.add(vocab.get(id));
        return j.toString();
    }

    @Override
    public byte[] tokenBytes(int id) {
        checkIds(id);
        return vocab.get(id).getBytes(StandardCharsets.UTF_8);
    }
}
