package dev.loupe.tokenizer;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;

/** GPT-2's byte-level BPE ({@code r50k_base}); {@code <|endoftext|>} (50256) is the BOS token. */
public final class Gpt2Tokenizer implements Tokenizer {
    public static final int VOCAB_SIZE = 50257;
    public static final int END_OF_TEXT = 50256;
    public static final String END_OF_TEXT_TEXT = "<|endoftext|>";

    private static final class Holder {
        static final Encoding ENCODING = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.R50K_BASE);
    }

    private static final Gpt2Tokenizer INSTANCE = new Gpt2Tokenizer();

    private Gpt2Tokenizer() {}

    public static Gpt2Tokenizer get() { return INSTANCE; }

    @Override public int vocabSize() { return VOCAB_SIZE; }
    @Override public int bosId() { return END_OF_TEXT; }

    /** Encodes text; a literal {@code <|endoftext|>} in it becomes id 50256, as in Hugging Face's tokenizer. */
    @Override
    public int[] encodeText(String text) {
        IntArrayList out = new IntArrayList();
        int from = 0;
        while (true) {
            int at = text.indexOf(END_OF_TEXT_TEXT, from);
            String part = text.substring(from, at < 0 ? text.length() : at);
            if (!part.isEmpty()) {
                IntArrayList ids = Holder.ENCODING.encodeOrdinary(part);
                for (int i = 0; i < ids.size(); i++) out.add(ids.get(i));
            }
            if (at < 0) break;
            out.add(END_OF_TEXT);
            from = at + END_OF_TEXT_TEXT.length();
        }
        return out.toArray();
    }

    @Override
    public String decode(int... ids) {
        checkIds(ids);
        return Holder.ENCODING.decode(list(ids));
    }

    @Override
    public byte[] tokenBytes(int id) {
        checkIds(id);
        return Holder.ENCODING.decodeBytes(list(id));
    }

    private static IntArrayList list(int... ids) {
        IntArrayList l = new IntArrayList(ids.length);
        for (int id : ids) l.add(id);
        return l;
    }
}
