package dev.loupe.cli;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * What the benchmarks over HTTP share: GET requests against one app with a timeout, latency percentiles of the
 * answers, and the small helpers around them.
 */
final class BenchHttp {
    // HTTP/1.1 as browsers speak it to a plain-http server: each user (thread) has its own connections. Java's default,
    // HTTP/2 via h2c upgrade, multiplexes every user over one connection and so onto one of the server's event loops.
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
    private final String base;
    private final Duration timeout;

    BenchHttp(String base, Duration timeout) {
        this.base = base.replaceAll("/+$", "");
        this.timeout = timeout;
    }

    String base() { return base; }

    /** GET {@code base + path} with headers given as name, value, name, value... */
    HttpResponse<byte[]> get(String path, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(timeout).GET();
        for (int i = 0; i + 1 < headers.length; i += 2) b.header(headers[i], headers[i + 1]);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    /** The p-th percentile (nearest rank) of sorted values; NaN when there are none. */
    static double percentile(double[] sorted, double p) {
        if (sorted.length == 0) return Double.NaN;
        int i = (int) Math.ceil(p / 100 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    static double[] sorted(Collection<Double> millis) {
        return millis.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    }

    /** A query-string value: percent-encoded, spaces as %20. */
    static String enc(String s) { return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20"); }

    static String envOr(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : v;
    }

    /** Deletes a temporary folder; what cannot be deleted is left to the OS. */
    static void deleteTree(Path root) {
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // temporary files
        }
    }
}
