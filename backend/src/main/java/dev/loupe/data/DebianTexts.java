package dev.loupe.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Extra English text for training, from Debian packages (DESIGN §6): the King James Bible ({@code bible-kjv-text},
 * read with the {@code bible} program of {@code bible-kjv}) and the fortune cookies of {@code fortunes} (not the
 * offensive sets, which are another package). {@code apt-get download} fetches the packages into the cache folder
 * and {@code dpkg-deb -x} unpacks them there, so nothing is installed and no root is needed.
 */
public final class DebianTexts {
    public static final Path DEFAULT_CACHE = Path.of("data", "corpora", "debian");
    static final List<String> PACKAGES = List.of("bible-kjv", "bible-kjv-text", "fortunes");
    /** Fortune files left out: pictures made of characters, text in other languages, and sets about ethnicity, drugs and sex. */
    static final Set<String> SKIPPED_FORTUNES = Set.of("ascii-art", "art", "translate-me", "ethnic", "drugs", "men-women");
    private static final Pattern VERSE = Pattern.compile("^\\s+\\d+ (.*)$");
    private static final Pattern CHAPTER = Pattern.compile("^(\\S.*) (\\d+)$");

    private final Path cacheDir;

    public DebianTexts(Path cacheDir) {
        this.cacheDir = cacheDir;
    }

    /** The folder the packages are unpacked into. */
    public Path root() {
        return cacheDir.resolve("root");
    }

    /** Downloads and unpacks each package unless done before; returns the package files (their names carry the versions). */
    public List<String> ensure() throws IOException {
        Files.createDirectories(root());
        List<String> debs = new ArrayList<>();
        for (String pkg : PACKAGES) {
            Path deb = findDeb(pkg);
            if (deb == null) {
                ExternalCommand.run(List.of("apt-get", "download", pkg), cacheDir, 10,
                        "It comes with Debian and Ubuntu; on another system put " + pkg + "_*.deb into " + cacheDir + ".");
                deb = findDeb(pkg);
                if (deb == null) throw new IOException("apt-get download " + pkg + " left no " + pkg + "_*.deb in " + cacheDir);
            }
            Path marker = root().resolve("." + deb.getFileName() + ".unpacked");
            if (!Files.exists(marker)) {
                ExternalCommand.run(List.of("dpkg-deb", "-x", deb.toAbsolutePath().toString(), root().toAbsolutePath().toString()),
                        null, 5, "Install dpkg (Debian: it is always there).");
                Files.writeString(marker, "");
            }
            debs.add(deb.getFileName().toString());
        }
        return debs;
    }

    private Path findDeb(String pkg) throws IOException {
        try (DirectoryStream<Path> found = Files.newDirectoryStream(cacheDir, pkg + "_*.deb")) {
            for (Path p : found) return p;
        }
        return null;
    }

    /** The 66 books of the King James Bible, one document each (genre {@code kjv}), a chapter per paragraph. */
    public List<CorpusDocument> kjv() throws IOException {
        String text = ExternalCommand.run(List.of(root().resolve("usr/bin/bible").toString(), "-p", root().resolve("usr/lib").toString(),
                "-l", "100000", "gen1:1-rev22:21"), null, 5, "It is unpacked from the bible-kjv package by 'corpus extra'.");
        return parseKjv(text);
    }

    /** The output of {@code bible -l 100000}: a line "Book N" before each chapter, then one line per verse "  n text". */
    static List<CorpusDocument> parseKjv(String text) {
        List<CorpusDocument> books = new ArrayList<>();
        String book = null;
        StringBuilder body = new StringBuilder();
        StringBuilder chapter = new StringBuilder();
        for (String line : text.split("\n")) {
            Matcher verse = VERSE.matcher(line);
            if (verse.matches()) {
                if (!chapter.isEmpty()) chapter.append(' ');
                chapter.append(verse.group(1).strip());
                continue;
            }
            Matcher heading = CHAPTER.matcher(line.strip());
            if (!heading.matches()) continue;
            endChapter(body, chapter);
            if (!heading.group(1).equals(book)) {
                if (book != null) books.add(document(book, body));
                book = heading.group(1);
                body.setLength(0);
            }
        }
        endChapter(body, chapter);
        if (book != null) books.add(document(book, body));
        return books;
    }

    /** Moves a finished chapter into its book as a paragraph. */
    private static void endChapter(StringBuilder body, StringBuilder chapter) {
        if (chapter.isEmpty()) return;
        if (!body.isEmpty()) body.append("\n\n");
        body.append(chapter);
        chapter.setLength(0);
    }

    private static CorpusDocument document(String book, CharSequence body) {
        return new CorpusDocument("kjv/" + book.replace(' ', '_'), "kjv", PlainText.words(body.toString()));
    }

    /** Every fortune of every file the package installs, one document each, its genre the file's name. */
    public List<CorpusDocument> fortunes() throws IOException {
        Path dir = root().resolve("usr/share/games/fortunes");
        if (!Files.isDirectory(dir)) throw new IOException("no fortunes in " + dir + "; run 'corpus extra' to unpack them");
        TreeMap<String, Path> files = new TreeMap<>();
        try (DirectoryStream<Path> list = Files.newDirectoryStream(dir)) {
            for (Path p : list) {
                String name = p.getFileName().toString();
                // strfile indexes (.dat) and the UTF-8 links (.u8) sit beside each text file
                if (!name.contains(".") && Files.isRegularFile(p) && !Files.isSymbolicLink(p) && !SKIPPED_FORTUNES.contains(name))
                    files.put(name, p);
            }
        }
        List<CorpusDocument> out = new ArrayList<>();
        for (var e : files.entrySet()) out.addAll(parseFortunes(e.getKey(), Files.readString(e.getValue(), StandardCharsets.UTF_8)));
        return out;
    }

    /** A fortune file: entries separated by lines holding only {@code %}. */
    static List<CorpusDocument> parseFortunes(String file, String content) {
        List<CorpusDocument> out = new ArrayList<>();
        int n = 0;
        for (String entry : content.split("(?m)^%\\s*$")) {
            List<TaggedWord> words = PlainText.words(entry);
            if (!words.isEmpty()) out.add(new CorpusDocument("fortunes/" + file + "/" + ++n, file, words));
        }
        return out;
    }
}
