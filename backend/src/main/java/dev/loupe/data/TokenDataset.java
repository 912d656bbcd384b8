package dev.loupe.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A tokenised corpus on disk (written by {@link DatasetBuilder}), loaded whole: the Brown corpus is ~1.5 M tokens,
 * a few MB. Files in the dataset folder:
 * <ul>
 *   <li>{@code tokens.bin}: GPT-2 token ids, uint16 little-endian, the documents in corpus order, each preceded by
 *       {@code <|endoftext|>} (50256) and one more 50256 at the very end: {@code EOT d1 EOT d2 … EOT dN EOT}.</li>
 *   <li>{@code pos.bin}: uint16 little-endian, per token the id of its word's POS tag in {@code tags.json}
 *       (0 = none: separators and whitespace-only tokens).</li>
 *   <li>{@code words.bin}: int32 little-endian, per token the index of its word within its document (-1 = none).</li>
 *   <li>{@code tags.json}: {@code {"tags": [...], "coarse": [...]}}, the tag of each id and its coarse class.</li>
 *   <li>{@code docs.json}: the format, tokenizer, split and per document {@code id, genre, offset} (index in
 *       tokens.bin of its first token), {@code length} (tokens, separators excluded), {@code words}, {@code split}.</li>
 * </ul>
 */
public final class TokenDataset {
    public static final String FORMAT = "loupe-tokens-v1";
    public static final String TOKENS = "tokens.bin";
    public static final String POS = "pos.bin";
    public static final String WORDS = "words.bin";
    public static final String TAGS = "tags.json";
    public static final String DOCS = "docs.json";
    /** Marks a target position that is not scored (padding, separators in held-out batches). */
    public static final int IGNORE = -1;

    /** One document's entry in {@code docs.json}. */
    public record Document(String id, String genre, int offset, int length, int words, String split) {
        public boolean heldOut() {
            return split.equals(DatasetSplit.HELD_OUT);
        }
    }

    private final int[] tokens;
    private final int[] pos;
    private final int[] words;
    private final PosTags tags;
    private final List<Document> documents;
    private final int eot;
    private final String source;

    TokenDataset(int[] tokens, int[] pos, int[] words, PosTags tags, List<Document> documents, int eot, String source) {
        this.tokens = tokens;
        this.pos = pos;
        this.words = words;
        this.tags = tags;
        this.documents = List.copyOf(documents);
        this.eot = eot;
        this.source = source;
    }

    public static TokenDataset open(Path dir) throws IOException {
        Path docsFile = dir.resolve(DOCS);
        if (!Files.isRegularFile(docsFile))
            throw new IOException("no dataset in " + dir + " (missing " + DOCS + "); run: corpus prepare --out " + dir);
        ObjectMapper json = new ObjectMapper();
        JsonNode docs = json.readTree(docsFile.toFile());
        if (!FORMAT.equals(docs.path("format").asText()))
            throw new IOException(docsFile + ": unknown format '" + docs.path("format").asText() + "', expected " + FORMAT);
        List<Document> documents = new ArrayList<>();
        for (JsonNode d : docs.path("documents"))
            documents.add(new Document(d.path("id").asText(), d.path("genre").asText(), d.path("offset").asInt(),
                    d.path("length").asInt(), d.path("words").asInt(), d.path("split").asText()));
        JsonNode tagsNode = json.readTree(dir.resolve(TAGS).toFile()).path("tags");
        List<String> tagList = new ArrayList<>();
        tagsNode.forEach(t -> tagList.add(t.asText()));
        int[] tokens = readUint16(dir.resolve(TOKENS));
        int[] pos = readUint16(dir.resolve(POS));
        int[] words = readInt32(dir.resolve(WORDS));
        if (pos.length != tokens.length || words.length != tokens.length)
            throw new IOException(dir + ": tokens, pos and words files differ in length");
        return new TokenDataset(tokens, pos, words, new PosTags(tagList), documents, docs.path("eot").asInt(AlignedTokenizer.EOT),
                docs.path("source").asText(""));
    }

    public List<Document> documents() {
        return documents;
    }

    public List<Document> documents(boolean heldOut) {
        return documents.stream().filter(d -> d.heldOut() == heldOut).toList();
    }

    /** Where the documents came from ({@code docs.json}'s {@code source}; empty for a dataset not read from disk). */
    public String source() {
        return source;
    }

    public PosTags tags() {
        return tags;
    }

    public int eot() {
        return eot;
    }

    /** The whole token stream (read-only by convention: it is shared, not copied). */
    public int[] tokens() {
        return tokens;
    }

    /** Per token, its POS tag id. */
    public int[] pos() {
        return pos;
    }

    /** Per token, its word's index in its document, or -1. */
    public int[] wordIndex() {
        return words;
    }

    /** A document's tokens, separators excluded. */
    public int[] tokens(Document d) {
        return Arrays.copyOfRange(tokens, d.offset(), d.offset() + d.length());
    }

    /** The documents of one side of the split as one stream: {@code EOT d1 EOT d2 … EOT dk}. */
    public int[] stream(boolean heldOut) {
        List<Document> docs = documents(heldOut);
        int n = docs.stream().mapToInt(d -> d.length() + 1).sum();
        int[] out = new int[n];
        int at = 0;
        for (Document d : docs) {
            out[at++] = eot;
            System.arraycopy(tokens, d.offset(), out, at, d.length());
            at += d.length();
        }
        return out;
    }

    /** Tokens of one side of the split, separators excluded: the number of held-out predictions. */
    public long tokenCount(boolean heldOut) {
        return documents(heldOut).stream().mapToLong(Document::length).sum();
    }

    /** Random windows over the training documents for a trainer. */
    public WindowSampler trainingWindows(int length, long seed) {
        return new WindowSampler(stream(false), length, seed);
    }

    /** Sequential windows covering every held-out document token exactly once as a target. */
    public HeldOutBatches heldOutBatches(int length, int batchSize) {
        return heldOutBatches(length, length, batchSize);
    }

    /** Overlapping windows every {@code stride} tokens, each held-out document token still a target exactly once. */
    public HeldOutBatches heldOutBatches(int length, int stride, int batchSize) {
        return new HeldOutBatches(stream(true), eot, length, stride, batchSize);
    }

    private static int[] readUint16(Path file) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        int[] out = new int[buf.remaining() / 2];
        for (int i = 0; i < out.length; i++) out[i] = Short.toUnsignedInt(buf.getShort());
        return out;
    }

    private static int[] readInt32(Path file) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        int[] out = new int[buf.remaining() / 4];
        buf.asIntBuffer().get(out);
        return out;
    }
}
