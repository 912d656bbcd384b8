package dev.loupe.data;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Tokenises documents with GPT-2's BPE, keeping per token its word and that word's POS tag, and writes the dataset
 * folder that {@link TokenDataset} reads (the format is described there).
 */
public final class DatasetBuilder {

    /** Where the documents came from and how they were split, recorded in {@code docs.json}. */
    public record Provenance(String name, String source, double heldOutFraction, long seed) {
    }

    private final AlignedTokenizer tokenizer = new AlignedTokenizer();

    /** Tokenises in memory; {@link #write} puts the result on disk. */
    public TokenDataset build(List<CorpusDocument> corpus, Set<String> heldOut) {
        TreeSet<String> tagSet = new TreeSet<>();
        for (CorpusDocument d : corpus) for (TaggedWord w : d.words()) tagSet.add(w.tag());
        PosTags tags = PosTags.of(tagSet);
        IntBuffer tokens = new IntBuffer();
        IntBuffer pos = new IntBuffer();
        IntBuffer words = new IntBuffer();
        List<TokenDataset.Document> documents = new ArrayList<>();
        for (CorpusDocument d : corpus) {
            tokens.add(AlignedTokenizer.EOT);
            pos.add(0);
            words.add(-1);
            int offset = tokens.size;
            AlignedTokenizer.Tokens encoded = tokenizer.encode(Detokenizer.render(d.words()));
            for (int t = 0; t < encoded.ids().length; t++) {
                int w = encoded.wordIndex()[t];
                tokens.add(encoded.ids()[t]);
                words.add(w);
                pos.add(w < 0 ? 0 : tags.id(d.words().get(w).tag()));
            }
            String split = heldOut.contains(d.id()) ? DatasetSplit.HELD_OUT : DatasetSplit.TRAIN;
            documents.add(new TokenDataset.Document(d.id(), d.genre(), offset, encoded.ids().length, d.words().size(), split));
        }
        tokens.add(AlignedTokenizer.EOT);
        pos.add(0);
        words.add(-1);
        return new TokenDataset(tokens.toArray(), pos.toArray(), words.toArray(), tags, documents, AlignedTokenizer.EOT, "");
    }

    public static void write(TokenDataset data, Provenance provenance, Path dir) throws IOException {
        Files.createDirectories(dir);
        writeInts(dir.resolve(TokenDataset.TOKENS), data.tokens(), 2);
        writeInts(dir.resolve(TokenDataset.POS), data.pos(), 2);
        writeInts(dir.resolve(TokenDataset.WORDS), data.wordIndex(), 4);

        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode tagsJson = json.createObjectNode();
        ArrayNode tagNames = tagsJson.putArray("tags");
        ArrayNode coarse = tagsJson.putArray("coarse");
        for (String t : data.tags().tags()) {
            tagNames.add(t);
            coarse.add(PosTags.coarse(t));
        }
        json.writeValue(dir.resolve(TokenDataset.TAGS).toFile(), tagsJson);

        ObjectNode docs = json.createObjectNode();
        docs.put("format", TokenDataset.FORMAT);
        docs.put("name", provenance.name());
        docs.put("source", provenance.source());
        docs.put("tokenizer", "r50k_base");
        docs.put("eot", data.eot());
        docs.put("tokens", data.tokens().length);
        ObjectNode split = docs.putObject("split");
        split.put("by", "document, stratified by genre");
        split.put("heldOutFraction", provenance.heldOutFraction());
        split.put("seed", provenance.seed());
        for (boolean held : new boolean[]{false, true}) {
            ObjectNode side = split.putObject(held ? DatasetSplit.HELD_OUT : DatasetSplit.TRAIN);
            side.put("documents", data.documents(held).size());
            side.put("tokens", data.tokenCount(held));
        }
        ArrayNode list = docs.putArray("documents");
        for (TokenDataset.Document d : data.documents()) {
            ObjectNode o = list.addObject();
            o.put("id", d.id());
            o.put("genre", d.genre());
            o.put("offset", d.offset());
            o.put("length", d.length());
            o.put("words", d.words());
            o.put("split", d.split());
        }
        json.writeValue(dir.resolve(TokenDataset.DOCS).toFile(), docs);
    }

    private static void writeInts(Path file, int[] values, int bytesEach) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(values.length * bytesEach).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : values) {
            if (bytesEach == 2) {
                if (v < 0 || v > 0xFFFF) throw new IllegalArgumentException(file.getFileName() + ": value " + v + " does not fit uint16");
                buf.putShort((short) v);
            } else {
                buf.putInt(v);
            }
        }
        Files.write(file, buf.array());
    }

    /** A growable int array: a boxed list of 1.5 M Integers would cost ten times the memory. */
    private static final class IntBuffer {
        private int[] data = new int[1 << 16];
        private int size;

        void add(int v) {
            if (size == data.length) data = Arrays.copyOf(data, size * 2);
            data[size++] = v;
        }

        int[] toArray() {
            return Arrays.copyOf(data, size);
        }
    }
}
