package dev.loupe.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * Text ↔ token ids. {@link #encode(String)} prepends the BOS token when the vocabulary has one, as
 * TransformerLens does; {@link #encode(String, boolean)} lets callers leave it out.
 */
public interface Tokenizer {

    /** Number of ids the tokenizer can produce; valid ids are {@code 0 .. vocabSize()-1}. */
    int vocabSize();

    /** The BOS id, or -1 when the vocabulary has none. */
    int bosId();

    /** Ids of {@code text}, without BOS. */
    int[] encodeText(String text);

    /** Text of the ids; bytes that do not form whole characters become U+FFFD. */
    String decode(int... ids);

    /** Raw text of one token (may be part of a multi-byte character), as bytes. */
    byte[] tokenBytes(int id);

    /** Ids of {@code text} with BOS prepended (when there is one). */
    default int[] encode(String text) { return encode(text, true); }

    default int[] encode(String text, boolean prependBos) {
        int[] ids = encodeText(text);
        if (!prependBos || bosId() < 0) return ids;
        int[] out = new int[ids.length + 1];
        out[0] = bosId();
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    /** Display string of one token: bytes that are not whole UTF-8 characters shown as {@code \xNN}. */
    default String display(int id) { return display(id, false); }

    /** As {@link #display(int)}; with {@code visibleWhitespace}, space is shown as ·, newline as ↵ and tab as →. */
    default String display(int id, boolean visibleWhitespace) {
        checkIds(id);
        String s = TokenText.readable(tokenBytes(id));
        return visibleWhitespace ? TokenText.visibleWhitespace(s) : s;
    }

    /**
     * Labels of a sequence of tokens for the views, whitespace visible: a character split over tokens is written in
     * each piece with its part ({@code 頭(1/2)}, {@code 頭(2/2)}), bytes that form no character as {@code ⟨E5 BE⟩}.
     */
    default List<String> labels(int... ids) { return labels(true, ids); }

    /** As {@link #labels(int...)}; without {@code visibleWhitespace} spaces and newlines stay as they are. */
    default List<String> labels(boolean visibleWhitespace, int... ids) {
        checkIds(ids);
        List<byte[]> bytes = new ArrayList<>(ids.length);
        for (int id : ids) bytes.add(tokenBytes(id));
        return TokenText.labels(bytes, visibleWhitespace);
    }

    default List<String> displayAll(int[] ids, boolean visibleWhitespace) {
        List<String> out = new ArrayList<>(ids.length);
        for (int id : ids) out.add(display(id, visibleWhitespace));
        return out;
    }

    /** Throws a {@link TokenizerException} naming the first id outside the vocabulary. */
    default void checkIds(int... ids) {
        for (int i = 0; i < ids.length; i++)
            if (ids[i] < 0 || ids[i] >= vocabSize())
                throw new TokenizerException("token id " + ids[i] + " at position " + i + " is outside the vocabulary [0, " + vocabSize() + ")");
    }
}
