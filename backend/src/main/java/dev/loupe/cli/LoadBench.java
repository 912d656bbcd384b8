package dev.loupe.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code loupe bench load}: N virtual users for T seconds against a running app ({@code --url}) or one started here,
 * each sending a mix of cached views (prompts answered before), cold views (a new prompt every time) and expensive
 * requests (the head-detector burst: 16 sequences of 127 random tokens, a new seed every time). Prints per-kind
 * latency percentiles, answers by status, the resident memory (idle, peak, a while after the burst) read from
 * {@code /q/metrics}, and one summary line. Every user sends its own {@code X-Forwarded-For}, so with proxy
 * forwarding on (as in the app started here) each counts as a client of its own.
 */
@Command(name = "load", mixinStandardHelpOptions = true,
        description = "N users for T seconds: cached views, cold views and the detector burst; latency, statuses and memory.")
public final class LoadBench implements Callable<Integer> {
    static final double CACHED_P95_GOAL_MS = 50;

    @Option(names = "--url", paramLabel = "URL", description = "a running Loupe (default: start the packaged app)")
    String url;
    @Option(names = "--app", paramLabel = "JAR", description = "the packaged app to start (default $LOUPE_APP_JAR or frontend/target/quarkus-app/quarkus-run.jar)")
    Path app;
    @Option(names = "--models-dir", paramLabel = "DIR", description = "models directory of the started app (default: $LOUPE_MODELS or onnx-models)")
    Path modelsDir;
    @Option(names = "--model", defaultValue = "brown-6l", description = "model to load (default ${DEFAULT-VALUE})")
    String model;
    @Option(names = "--users", defaultValue = "50", description = "virtual users (default ${DEFAULT-VALUE})")
    int users;
    @Option(names = "--seconds", defaultValue = "60", description = "how long the users send requests (default ${DEFAULT-VALUE})")
    int seconds;
    @Option(names = "--after", defaultValue = "60", description = "seconds to wait after the burst before memory is read again (default ${DEFAULT-VALUE})")
    int after;
    @Option(names = "--mix", defaultValue = "6:3:1", description = "weights of cached:cold:expensive requests (default ${DEFAULT-VALUE})")
    String mix;
    @Option(names = "--heap", defaultValue = "4g", description = "heap of the started app (default ${DEFAULT-VALUE})")
    String heap;
    @Option(names = "--app-option", paramLabel = "KEY=VALUE",
            description = "a setting of the started app, repeatable (e.g. loupe.compute.concurrency=50 loupe.max-memory=1t to lift the scheduler's limits)")
    List<String> appOptions = new ArrayList<>();

    private static final String[] WORDS = ("the of and to in a is that for it as was with be by on not he this are or his from at which but have "
            + "an they you were her she there been one all we their has would when if so no will what can more other into its time only could "
            + "new them man some these then two first may any like now my such make over our even most me state after also made many did must "
            + "before back see through way where get much go well your know should down work year because come people just say each those take "
            + "day good how long own too little use great three very old world here thought life men house under never").split(" ");

    /** The kinds of request, in the order of {@code --mix}. */
    enum Kind { CACHED, COLD, EXPENSIVE }

    /** Answers of one kind: latencies of the 200s, and counts by status ("503+RA" is a 503 with Retry-After). */
    static final class Tally {
        final List<Double> okMillis = new ArrayList<>();
        final Map<String, Integer> byStatus = new TreeMap<>();

        synchronized void add(String status, double millis) {
            byStatus.merge(status, 1, Integer::sum);
            if (status.equals("200")) okMillis.add(millis);
        }
    }

    private BenchHttp http;

    @Override
    public Integer call() throws Exception {
        double[] weights = Arrays.stream(mix.split(":")).mapToDouble(Double::parseDouble).toArray();
        if (weights.length != 3 || Arrays.stream(weights).anyMatch(w -> w < 0) || Arrays.stream(weights).sum() <= 0)
            throw new CliException("--mix takes three non-negative weights cached:cold:expensive, e.g. 6:3:1");
        if (users < 1 || seconds < 1) throw new CliException("--users and --seconds must be positive");
        AppProcess started = null;
        Path work = null;
        try {
            if (url == null) {
                Path jar = app != null ? app : Path.of(BenchHttp.envOr("LOUPE_APP_JAR", "frontend/target/quarkus-app/quarkus-run.jar"));
                Path models = modelsDir != null ? modelsDir : Path.of(BenchHttp.envOr("LOUPE_MODELS", "onnx-models"));
                work = Files.createTempDirectory("loupe-bench-load");
                List<String> options = new ArrayList<>(List.of("-Dloupe.default-model=" + model,
                        "-Dquarkus.http.proxy.proxy-address-forwarding=true", "-Dquarkus.http.proxy.allow-x-forwarded=true"));
                for (String o : appOptions) {
                    if (!o.contains("=")) throw new CliException("--app-option takes KEY=VALUE, not '" + o + "'");
                    options.add("-D" + o);
                }
                System.out.printf("starting the app (%s, heap %s%s)%n", jar, heap, appOptions.isEmpty() ? "" : ", " + String.join(" ", appOptions));
                started = AppProcess.start(jar, work, models, heap, options);
                http = new BenchHttp(started.base, Duration.ofSeconds(180));
            } else {
                http = new BenchHttp(url, Duration.ofSeconds(180));
            }
            return run(weights);
        } finally {
            if (started != null) started.close();
            if (work != null) BenchHttp.deleteTree(work);
        }
    }

    private int run(double[] weights) throws Exception {
        String m = BenchHttp.enc(model);
        List<String> cachedPaths = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            String text = BenchHttp.enc(sentence(new Random(i), 20));
            cachedPaths.add("/api/v1/models/" + m + "/prompt?text=" + text);
            cachedPaths.add("/api/v1/models/" + m + "/attention?layer=0&text=" + text);
            cachedPaths.add("/api/v1/models/" + m + "/logit-lens?text=" + text);
        }
        for (String p : cachedPaths) {
            int s = send(p, "198.51.100.1").statusCode();
            if (s != 200) throw new CliException("warm-up request " + p + " answered " + s);
        }
        Map<String, Double> metrics = metrics();
        long budget = metrics.getOrDefault("loupe_scheduler_memory_budget_bytes", -1.0).longValue();
        Thread.sleep(2000);
        long idle = rss();
        System.out.printf(Locale.ROOT, "Loupe load bench: %s, model %s, %d users for %d s, mix cached:cold:expensive %s, budget %s, concurrency %.0f, idle RSS %s%n",
                http.base(), model, users, seconds, mix, mb(budget), metrics.getOrDefault("loupe_scheduler_concurrency", Double.NaN), mb(idle));

        Map<Kind, Tally> tallies = new ConcurrentHashMap<>();
        for (Kind k : Kind.values()) tallies.put(k, new Tally());
        AtomicLong peak = new AtomicLong(idle), lastSeen = new AtomicLong(idle);
        AtomicInteger seeds = new AtomicInteger(1001), cold = new AtomicInteger();
        long end = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
        AtomicBoolean stop = new AtomicBoolean();
        Thread sampler = Thread.ofVirtual().start(() -> {
            while (!stop.get()) {
                long r = rss();
                if (r >= 0) lastSeen.set(r);
                peak.accumulateAndGet(r, Math::max);
                try {
                    Thread.sleep(500);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        List<Thread> vus = new ArrayList<>();
        for (int u = 0; u < users; u++) {
            int user = u;
            vus.add(Thread.ofVirtual().start(() -> {
                Random rnd = new Random(7919L * user + 1);
                String client = "10.77." + (user / 250) + "." + (user % 250 + 1);
                while (System.nanoTime() < end) {
                    Kind k = pick(weights, rnd);
                    String path = switch (k) {
                        case CACHED -> cachedPaths.get(rnd.nextInt(cachedPaths.size()));
                        case COLD -> "/api/v1/models/" + m + (rnd.nextBoolean() ? "/prompt?" : "/attention?layer=0&")
                                + "text=" + BenchHttp.enc(sentence(new Random(1_000_000L + cold.incrementAndGet()), 24));
                        case EXPENSIVE -> "/api/v1/models/" + m + "/detectors?batch=16&length=127&seed=" + seeds.getAndIncrement();
                    };
                    long t0 = System.nanoTime();
                    String status;
                    int wait = 0;
                    try {
                        HttpResponse<byte[]> r = send(path, client);
                        status = String.valueOf(r.statusCode());
                        var retry = r.headers().firstValue("Retry-After");
                        boolean json = r.headers().firstValue("Content-Type").orElse("").startsWith("application/json");
                        if (r.statusCode() == 503 && retry.isPresent()) status = json ? "503+RA" : "503+RA(not JSON)";
                        if (r.statusCode() == 429 && !json) status = "429(not JSON)";
                        if (retry.isPresent()) wait = Math.min(5, Integer.parseInt(retry.get().trim()));
                    } catch (IOException | NumberFormatException e) {
                        status = "failed: " + e.getClass().getSimpleName();
                        wait = 1;
                    } catch (InterruptedException e) {
                        return;
                    }
                    tallies.get(k).add(status, (System.nanoTime() - t0) / 1e6);
                    if (wait > 0) {
                        try {
                            Thread.sleep(wait * 1000L); // a polite client honours Retry-After
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                }
            }));
        }
        for (Thread t : vus) t.join();
        long endOfBurst = rss();
        peak.accumulateAndGet(endOfBurst, Math::max);
        System.out.printf(Locale.ROOT, "burst over; waiting %d s for memory to settle%n", after);
        long settleEnd = System.nanoTime() + Duration.ofSeconds(after).toNanos();
        while (System.nanoTime() < settleEnd) Thread.sleep(500);
        stop.set(true);
        sampler.join();
        long later = rss();
        if (later >= 0) lastSeen.set(later);

        System.out.printf(Locale.ROOT, "%-10s %7s %7s %9s %9s %9s  %s%n", "kind", "sent", "200", "p50 ms", "p95 ms", "p99 ms", "answers by status");
        int errors = 0, refused = 0;
        for (Kind k : Kind.values()) {
            Tally t = tallies.get(k);
            double[] ms = BenchHttp.sorted(t.okMillis);
            int sent = t.byStatus.values().stream().mapToInt(Integer::intValue).sum();
            System.out.printf(Locale.ROOT, "%-10s %7d %7d %9.1f %9.1f %9.1f  %s%n", k.name().toLowerCase(), sent, ms.length,
                    BenchHttp.percentile(ms, 50), BenchHttp.percentile(ms, 95), BenchHttp.percentile(ms, 99), t.byStatus);
            for (var e : t.byStatus.entrySet()) {
                if (e.getKey().equals("429") || e.getKey().equals("503+RA")) refused += e.getValue();
                else if (!e.getKey().equals("200")) errors += e.getValue();
            }
        }
        double p95 = BenchHttp.percentile(BenchHttp.sorted(tallies.get(Kind.CACHED).okMillis), 95);
        // the peak is what was sampled, also when the app is gone by the end (then it is a lower bound)
        long mbPeak = peak.get() >> 20;
        boolean died = later < 0;
        double back = idle > 0 && !died ? 100.0 * (later - idle) / idle : Double.NaN;
        if (died)
            System.out.printf(Locale.ROOT, "the app died or stopped answering during the run: its resident memory was last seen at %s, "
                    + "the peak seen before was %s%n", mb(lastSeen.get()), mb(peak.get()));
        System.out.printf(Locale.ROOT, "memory: idle %s, peak %s, end of burst %s, %d s later %s (%+.1f %% of idle); budget %s%n",
                mb(idle), mb(peak.get()), mb(endOfBurst), after, mb(later), back, mb(budget));
        System.out.printf(Locale.ROOT, "goals: cached p95 < %.0f ms: %s; no 5xx but 503 with Retry-After: %s; peak < budget + 1 GB: %s; back within 10 %% of idle (or below): %s%n",
                CACHED_P95_GOAL_MS, yes(p95 < CACHED_P95_GOAL_MS), yes(errors == 0),
                budget > 0 ? yes(!died && peak.get() < budget + (1L << 30)) : "unknown", yes(!died && back <= 10));
        System.out.printf(Locale.ROOT, "refused as busy (JSON 429 or 503 with Retry-After): %d%n", refused);
        System.out.printf(Locale.ROOT, "load-bench: p95_cached_ms=%.1f peak_rss_mb=%d errors=%d%s%n", p95, mbPeak, errors, died ? " app=died" : "");
        return 0;
    }

    private static Kind pick(double[] w, Random rnd) {
        double x = rnd.nextDouble() * (w[0] + w[1] + w[2]);
        return x < w[0] ? Kind.CACHED : x < w[0] + w[1] ? Kind.COLD : Kind.EXPENSIVE;
    }

    static String sentence(Random rnd, int words) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < words; i++) sb.append(i == 0 ? "" : " ").append(WORDS[rnd.nextInt(WORDS.length)]);
        return sb.toString();
    }

    private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*})?\\s+(\\S+)", Pattern.MULTILINE);

    /** The app's metrics without labels (name → value) from {@code /q/metrics}. */
    private Map<String, Double> metrics() throws IOException, InterruptedException {
        HttpResponse<byte[]> r = send("/q/metrics", "198.51.100.1");
        if (r.statusCode() != 200) throw new CliException("/q/metrics answered " + r.statusCode());
        Map<String, Double> out = new TreeMap<>();
        Matcher mt = SAMPLE.matcher(new String(r.body(), StandardCharsets.UTF_8));
        while (mt.find()) {
            if (mt.group(2) != null) continue;
            try {
                out.put(mt.group(1), Double.parseDouble(mt.group(3)));
            } catch (NumberFormatException ignored) {
                // NaN and friends are not needed
            }
        }
        return out;
    }

    /** Resident memory of the app, from its metrics; -1 when unreadable. */
    private long rss() {
        try {
            return metrics().getOrDefault("loupe_process_resident_memory_bytes", -1.0).longValue();
        } catch (IOException | InterruptedException | CliException e) {
            return -1;
        }
    }

    private HttpResponse<byte[]> send(String path, String client) throws IOException, InterruptedException {
        return http.get(path, "X-Forwarded-For", client);
    }

    private static String mb(long bytes) { return bytes < 0 ? "?" : (bytes >> 20) + " MB"; }

    private static String yes(boolean b) { return b ? "met" : "NOT met"; }

}
