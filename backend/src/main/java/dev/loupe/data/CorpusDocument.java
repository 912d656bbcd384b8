package dev.loupe.data;

import java.util.List;

/** One text of a corpus: its id (Brown: {@code ca01}), its genre (Brown: {@code news}) and its tagged words. */
public record CorpusDocument(String id, String genre, List<TaggedWord> words) {
    public CorpusDocument {
        words = List.copyOf(words);
    }
}
