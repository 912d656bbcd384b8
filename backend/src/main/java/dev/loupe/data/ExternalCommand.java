package dev.loupe.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a tool the corpus set-up needs (npm, apt-get, dpkg-deb, bible) and turns every failure into a message that says what to do. */
final class ExternalCommand {
    private ExternalCommand() {
    }

    /**
     * Runs {@code command} in {@code dir} (null: the current folder) and returns its standard output and error.
     * {@code install} says how to get the tool when it cannot be started.
     */
    static String run(List<String> command, Path dir, int timeoutMinutes, String install) throws IOException {
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        if (dir != null) builder.directory(dir.toFile());
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new IOException(command.getFirst() + " is needed but could not be started: " + e.getMessage() + ". " + install, e);
        }
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!process.waitFor(timeoutMinutes, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                throw new IOException(String.join(" ", command) + " did not finish in " + timeoutMinutes + " minutes");
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while " + command.getFirst() + " was running", e);
        }
        if (process.exitValue() != 0)
            throw new IOException(String.join(" ", command) + " failed (exit " + process.exitValue() + "):\n" + output.strip());
        return output;
    }
}
