package dev.loupe.neurons;

import java.util.ArrayList;
import java.util.List;

/**
 * The text a neuron index is built from: documents of token ids (with a POS tag id per token when the corpus is
 * tagged, as Brown is), split into the documents the statistics come from and the held-out documents the labels
 * are scored on. A document longer than the model's context runs as consecutive windows, each starting with BOS.
 *
 * @param name      what the corpus is, e.g. {@code brown-heldout}
 * @param index     documents the statistics and examples come from
 * @param scoring   documents the labels are scored on (none: labels get no score)
 * @param tagNames  the POS tag of each tag id (id 0 = no tag), or null for an untagged corpus
 * @param tagClass  the coarse class of each tag id ({@code NOUN}, {@code VERB}, …; "" for id 0), or null
 */
public record IndexCorpus(String name, List<Doc> index, List<Doc> scoring, List<String> tagNames, List<String> tagClass) {

    /** One document: its id, its tokens (no BOS), and per token its tag id (null when untagged). */
    public record Doc(String id, int[] tokens, int[] tags) {
        public Doc {
            if (tags != null && tags.length != tokens.length) throw new IllegalArgumentException("document " + id + ": tags and tokens differ in length");
        }
    }

    /**
     * One run of the model: {@code tokens} (BOS first when {@code bos}), their tags (0 for BOS), and where it came
     * from: document {@code doc} of its list, starting at token {@code offset} of that document.
     */
    public record Window(int doc, int offset, int[] tokens, int[] tags, boolean bos) {
        /** The first position that counts for statistics (BOS is left out). */
        public int firstCounted() { return bos ? 1 : 0; }
    }

    public IndexCorpus {
        index = List.copyOf(index);
        scoring = List.copyOf(scoring);
        if (index.isEmpty()) throw new IllegalArgumentException("the corpus has no documents to index");
        if ((tagNames == null) != (tagClass == null)) throw new IllegalArgumentException("tag names and classes go together");
    }

    public boolean tagged() { return tagNames != null; }

    /** Cuts documents into windows of at most {@code nCtx} tokens, BOS first when {@code bosId >= 0}. */
    public static List<Window> windows(List<Doc> docs, int nCtx, int bosId) {
        boolean bos = bosId >= 0;
        int step = bos ? nCtx - 1 : nCtx;
        if (step < 1) throw new IllegalArgumentException("context " + nCtx + " leaves no room for tokens after BOS");
        List<Window> out = new ArrayList<>();
        for (int d = 0; d < docs.size(); d++) {
            Doc doc = docs.get(d);
            for (int at = 0; at < doc.tokens().length; at += step) {
                int len = Math.min(step, doc.tokens().length - at);
                int shift = bos ? 1 : 0;
                int[] ids = new int[len + shift];
                int[] tags = new int[len + shift];
                if (bos) ids[0] = bosId;
                System.arraycopy(doc.tokens(), at, ids, shift, len);
                if (doc.tags() != null) System.arraycopy(doc.tags(), at, tags, shift, len);
                out.add(new Window(d, at, ids, tags, bos));
            }
        }
        return out;
    }

    /** Documents split for label scoring when no separate held-out text exists: every tenth document is held out. */
    public static IndexCorpus everyTenthHeldOut(String name, List<Doc> docs, List<String> tagNames, List<String> tagClass) {
        if (docs.size() < 10) return new IndexCorpus(name, docs, List.of(), tagNames, tagClass);
        List<Doc> index = new ArrayList<>(), scoring = new ArrayList<>();
        for (int i = 0; i < docs.size(); i++) (i % 10 == 9 ? scoring : index).add(docs.get(i));
        return new IndexCorpus(name, index, scoring, tagNames, tagClass);
    }
}
