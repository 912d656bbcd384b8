package dev.loupe.data;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * GPT-2's byte-level BPE ({@code r50k_base}) with each token traced back to the word it came from. A token belongs
 * to the word that holds its first non-whitespace byte, so {@code " the"} belongs to "the"; a token made only of
 * whitespace (a paragraph break {@code "\n\n"}) belongs to no word ({@code -1}). A token that spans two words
 * (GPT-2 has merges such as {@code ."}) belongs to the first.
 */
public final class AlignedTokenizer {
    /** {@code <|endoftext|>}: separates documents and is prepended as BOS. */
    public static final int EOT = 50256;
    public static final int VOCAB_SIZE = 50257;

    /** The tokens of one text and, per token, the index of its word (or -1). */
    public record Tokens(int[] ids, int[] wordIndex) {
    }

    private final Encoding encoding = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.R50K_BASE);

    public Tokens encode(Detokenizer.Text text) {
        byte[] bytes = text.text().getBytes(StandardCharsets.UTF_8);
        int[] byteWord = byteOwners(text, bytes.length);
        int[] ids = encoding.encodeOrdinary(text.text()).toArray();
        int[] wordIndex = new int[ids.length];
        IntArrayList single = new IntArrayList(1);
        int pos = 0;
        for (int t = 0; t < ids.length; t++) {
            single.clear();
            single.add(ids[t]);
            int len = encoding.decodeBytes(single).length;
            int owner = -1;
            for (int b = pos; b < pos + len && owner < 0; b++) owner = byteWord[b];
            wordIndex[t] = owner;
            pos += len;
        }
        if (pos != bytes.length) throw new IllegalStateException("BPE tokens cover " + pos + " of " + bytes.length + " bytes");
        return new Tokens(ids, wordIndex);
    }

    public String decode(int[] ids) {
        IntArrayList list = new IntArrayList(ids.length);
        for (int id : ids) list.add(id);
        return encoding.decode(list);
    }

    /** For every UTF-8 byte of the text, the word it belongs to, or -1 for the whitespace between words. */
    private static int[] byteOwners(Detokenizer.Text text, int byteCount) {
        String s = text.text();
        // character offset -> byte offset, so word spans (in chars) can be laid over the bytes
        int[] charToByte = new int[s.length() + 1];
        int b = 0;
        for (int i = 0; i < s.length(); i++) {
            charToByte[i] = b;
            char c = s.charAt(i);
            if (c < 0x80) b += 1;
            else if (c < 0x800) b += 2;
            else if (Character.isHighSurrogate(c)) b += 4;
            else if (Character.isLowSurrogate(c)) b += 0;
            else b += 3;
        }
        charToByte[s.length()] = b;
        int[] owner = new int[byteCount];
        Arrays.fill(owner, -1);
        for (int w = 0; w < text.start().length; w++)
            Arrays.fill(owner, charToByte[text.start()[w]], charToByte[text.end()[w]], w);
        return owner;
    }
}
