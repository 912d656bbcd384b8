package dev.loupe.data;

/**
 * One word of a corpus text as its source wrote it, with its part-of-speech tag (Brown tags such as
 * {@code nn}, {@code vbd}, {@code np-tl}) and what separates it from the word before.
 */
public record TaggedWord(String text, String tag, Break before) {

    /** The layout between a word and the previous one; the detokeniser turns it into whitespace. */
    public enum Break {
        /** Same line: a space, or nothing before punctuation. */
        NONE,
        /** A new line (after a headline). */
        LINE,
        /** A new paragraph (a blank line). */
        PARAGRAPH
    }

    public TaggedWord(String text, String tag) {
        this(text, tag, Break.NONE);
    }
}
