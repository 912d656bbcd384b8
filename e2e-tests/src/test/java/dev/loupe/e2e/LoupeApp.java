package dev.loupe.e2e;

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
import java.util.stream.Stream;

/**
 * The packaged app, started once per test run on a free port with a fresh data directory and a copy of the
 * repository's models plus one deliberately broken model folder.
 */
public final class LoupeApp {
    public static final String BROKEN_MODEL = "broken-manifest";
    /** A random GPT-2-vocabulary model (2 layers, 4 heads, d_model 64, context 128) written for the tests. */
    public static final String MODEL = "e2e-gpt2";
    public static final int MODEL_LAYERS = 2, MODEL_HEADS = 4, MODEL_CONTEXT = 128;
    /**
     * One HTTP/1.1 client for every test's API calls: the JDK client's default (HTTP/2 with an h2c upgrade on plain
     * HTTP) once left a request waiting past its timeout with the app idle, which hung a whole test run.
     */
    public static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(30)).build();
    private static LoupeApp instance;

    private final Process process;
    private final int port;
    private final Path dataDir;
    private final Path modelsDir;
    private final Path log;

    private LoupeApp(Process process, int port, Path dataDir, Path modelsDir, Path log) {
        this.process = process;
        this.port = port;
        this.dataDir = dataDir;
        this.modelsDir = modelsDir;
        this.log = log;
    }

    public static synchronized LoupeApp get() {
        if (instance == null) {
            try {
                instance = start();
            } catch (Exception e) {
                throw new IllegalStateException("could not start Loupe: " + e.getMessage(), e);
            }
            Runtime.getRuntime().addShutdownHook(new Thread(instance::stop));
        }
        return instance;
    }

    public String url(String path) { return "http://localhost:" + port + path; }
    public int port() { return port; }
    public Path dataDir() { return dataDir; }
    public Path modelsDir() { return modelsDir; }

    public HttpResponse<String> get(String path) {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create(url(path)))
                    .timeout(Duration.ofSeconds(60)).GET().build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException("GET " + path + " failed: " + e.getMessage(), e);
        }
    }

    private static LoupeApp start() throws Exception {
        Path jar = Path.of(System.getProperty("loupe.app.jar")).toAbsolutePath().normalize();
        if (!Files.isRegularFile(jar)) throw new IllegalStateException("packaged app not found at " + jar);
        Path work = Files.createTempDirectory("loupe-e2e");
        Path data = Files.createDirectories(work.resolve("data"));
        Path models = Files.createDirectories(work.resolve("models"));
        copyTree(Path.of(System.getProperty("loupe.models.source")), models);
        Path broken = Files.createDirectories(models.resolve(BROKEN_MODEL));
        Files.writeString(broken.resolve("manifest.json"), "{ \"name\": \"broken\", \"config\": ");
        RandomModel.write(models.resolve(MODEL), MODEL, MODEL_LAYERS, MODEL_HEADS, 64, MODEL_CONTEXT, 1);
        // every test's browser and client comes from 127.0.0.1, i.e. one client for the per-client job limit: tests that
        // leave jobs queued (cancel, restart, long sweeps) would otherwise make a later test's job refused as busy
        return launch(work, data, models, List.of("-Dloupe.jobs.per-client=200"), "/q/health/ready");
    }

    /** Another app on its own port with the given data and models folders (stop it with {@link #stop()}). */
    public static LoupeApp launch(Path work, Path data, Path models) throws Exception {
        return launch(work, data, models, List.of(), "/q/health/ready");
    }

    /**
     * Another app with extra JVM options (e.g. {@code -Dquarkus.profile=prod,demo}), returned once {@code readyPath}
     * answers 200 ({@code /q/health/live} for an app that is not expected to become ready).
     */
    public static LoupeApp launch(Path work, Path data, Path models, List<String> options, String readyPath) throws Exception {
        Path jar = Path.of(System.getProperty("loupe.app.jar")).toAbsolutePath().normalize();
        int port = freePort();
        Path log = Files.createTempFile(work, "app", ".log");
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx2g",
                "-Dquarkus.http.port=" + port, "-Dloupe.data-dir=" + data, "-Dloupe.models-dir=" + models,
                "-Dvaadin.devmode.usageStatistics.enabled=false", "-Dquarkus.analytics.disabled=true",
                "-Dvertx.disableURIValidation=true"));
        cmd.addAll(options);
        cmd.addAll(List.of("-jar", jar.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        LoupeApp app = new LoupeApp(p, port, data, models, log);
        app.awaitReady(Duration.ofSeconds(180), readyPath); // ready = the default model loaded: slow on a loaded machine
        return app;
    }

    /** The app's output so far (for failure messages). */
    public String log() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    public Process process() { return process; }

    private void awaitReady(Duration timeout, String readyPath) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        HttpClient client = HTTP;
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) throw new IllegalStateException("app exited early:\n" + Files.readString(log));
            try {
                HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(url(readyPath)))
                        .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200) return;
            } catch (IOException ignored) {
                // not listening yet
            }
            Thread.sleep(250);
        }
        throw new IllegalStateException("app not ready within " + timeout + ":\n" + Files.readString(log));
    }

    /** Kills the process at once (SIGKILL), as a crash or {@code kill -9} would; returns its exit status. */
    public int kill() throws InterruptedException {
        process.destroyForcibly();
        return process.waitFor();
    }

    public void stop() {
        process.destroy();
        try {
            process.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> paths = Files.walk(from)) {
            for (Path p : paths.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(target);
                else Files.copy(p, target);
            }
        }
    }
}
