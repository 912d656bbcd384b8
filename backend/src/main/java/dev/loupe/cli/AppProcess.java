package dev.loupe.cli;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** The packaged app started by a benchmark on a free port with its own data folder, stopped with {@link #close()}. */
final class AppProcess implements AutoCloseable {
    final Process process;
    final String base;
    final Path log;

    private AppProcess(Process process, String base, Path log) {
        this.process = process;
        this.base = base;
        this.log = log;
    }

    /**
     * Starts {@code jar} with {@code heap} and the extra {@code -D} options, and returns once {@code /q/health/ready}
     * answers 200 (the default model is loaded).
     */
    static AppProcess start(Path jar, Path work, Path models, String heap, List<String> options) throws Exception {
        if (!Files.isRegularFile(jar)) throw new CliException("packaged app not found at " + jar + " (build it with ./loupe build) or pass --url");
        Path data = Files.createDirectories(work.resolve("data"));
        Path log = work.resolve("app.log");
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx" + heap, "--enable-native-access=ALL-UNNAMED",
                "-Dquarkus.http.port=" + port, "-Dloupe.data-dir=" + data.toAbsolutePath(), "-Dloupe.models-dir=" + models.toAbsolutePath(),
                "-Dvaadin.devmode.usageStatistics.enabled=false", "-Dquarkus.analytics.disabled=true"));
        cmd.addAll(options);
        cmd.addAll(List.of("-jar", jar.toAbsolutePath().toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        AppProcess app = new AppProcess(p, "http://localhost:" + port, log);
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        long deadline = System.nanoTime() + Duration.ofSeconds(180).toNanos();
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) throw new CliException("the app exited early:\n" + Files.readString(log));
            try {
                if (http.send(HttpRequest.newBuilder(URI.create(app.base + "/q/health/ready")).timeout(Duration.ofSeconds(10)).build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode() == 200) return app;
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        app.close();
        throw new CliException("the app did not become ready within 180 s:\n" + Files.readString(log));
    }

    long pid() { return process.pid(); }

    @Override
    public void close() {
        process.destroy();
        try {
            process.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
