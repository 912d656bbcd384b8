package dev.loupe.data;

import java.util.List;
import java.util.Set;

/**
 * Turns tagged words back into running text as a reader would see it, remembering where each word landed so that
 * sub-word tokens can be traced back to their word. Rules: a space between words, none before closing punctuation
 * and none after opening brackets or quotes; Brown's {@code ``} and {@code ''} become plain double quotes; a lone
 * {@code '} alternates between opening and closing (Brown marks quotes inside quotes that way); paragraphs are
 * separated by a blank line and a headline ends its line.
 */
public final class Detokenizer {

    /** The text and, per word, its character span {@code [start[i], end[i])}. */
    public record Text(String text, int[] start, int[] end) {
    }

    private static final Set<String> NO_SPACE_BEFORE = Set.of(",", ".", ";", ":", "?", "!", ")", "]", "}", "''");
    private static final Set<String> NO_SPACE_AFTER = Set.of("``", "(", "[", "{");

    private Detokenizer() {
    }

    public static Text render(List<TaggedWord> words) {
        StringBuilder sb = new StringBuilder();
        int[] start = new int[words.size()];
        int[] end = new int[words.size()];
        boolean glueNext = true; // nothing before the first word
        boolean singleQuoteOpen = false;
        for (int i = 0; i < words.size(); i++) {
            TaggedWord w = words.get(i);
            String raw = w.text();
            if (w.before() != TaggedWord.Break.NONE) singleQuoteOpen = false; // quotes do not run across paragraphs here
            boolean opening = NO_SPACE_AFTER.contains(raw);
            boolean closing = NO_SPACE_BEFORE.contains(raw);
            if (raw.equals("'")) {
                closing = singleQuoteOpen;
                opening = !singleQuoteOpen;
                singleQuoteOpen = !singleQuoteOpen;
            }
            if (i > 0) {
                switch (w.before()) {
                    case PARAGRAPH -> sb.append("\n\n");
                    case LINE -> sb.append('\n');
                    case NONE -> {
                        if (!glueNext && !closing) sb.append(' ');
                    }
                }
            }
            start[i] = sb.length();
            sb.append(surface(raw));
            end[i] = sb.length();
            glueNext = opening;
        }
        return new Text(sb.toString(), start, end);
    }

    /** The characters a word shows in running text. */
    static String surface(String raw) {
        return switch (raw) {
            case "``", "''" -> "\"";
            default -> raw;
        };
    }
}
