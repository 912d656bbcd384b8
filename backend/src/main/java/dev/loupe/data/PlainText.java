package dev.loupe.data;

import java.util.ArrayList;
import java.util.List;

/**
 * Untagged running text as corpus words, so that it goes through the same tokeniser and dataset format as Brown:
 * words are the whitespace-separated pieces (punctuation stays attached, as written), a line break becomes
 * {@link TaggedWord.Break#LINE}, a blank line {@link TaggedWord.Break#PARAGRAPH}, and every word carries the empty
 * tag {@link PosTags#NONE}. Runs of spaces and tabs inside a line become one space.
 */
public final class PlainText {
    private PlainText() {
    }

    public static List<TaggedWord> words(String text) {
        List<TaggedWord> words = new ArrayList<>();
        TaggedWord.Break pending = TaggedWord.Break.NONE;
        int blankRun = 0;
        for (String line : text.strip().split("\n", -1)) {
            String[] pieces = line.strip().split("\\s+");
            if (pieces.length == 1 && pieces[0].isEmpty()) {
                blankRun++;
                continue;
            }
            if (!words.isEmpty()) pending = blankRun > 0 ? TaggedWord.Break.PARAGRAPH : TaggedWord.Break.LINE;
            blankRun = 0;
            for (String piece : pieces) {
                words.add(new TaggedWord(piece, PosTags.NONE, pending));
                pending = TaggedWord.Break.NONE;
            }
        }
        return words;
    }
}
