package dev.loupe.store;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import javax.sql.DataSource;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.function.Supplier;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/**
 * Computed results in H2 ({@code result_cache}), addressed by a stable key: SHA-256 of model, analysis and the
 * request's canonical JSON. Values are stored as gzipped JSON, so they survive restarts and can be shared by id.
 * Identical requests that arrive together are computed once.
 */
@ApplicationScoped
public class ResultCache {
    private static final Logger LOG = Logger.getLogger(ResultCache.class);

    /** A value and whether it came from the cache. */
    public record Cached<T>(T value, boolean hit, String key) {}

    /** A value as JSON text (UTF-8), whether it came from the cache, and its key. */
    public record CachedJson(byte[] json, boolean hit, String key) {}

    private final DataSource dataSource;
    private final ObjectMapper json = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
    private final ConcurrentHashMap<String, CompletableFuture<byte[]>> inFlight = new ConcurrentHashMap<>();
    private static final long MAX_HOT_BYTES = 64L << 20;
    private final java.util.Map<String, byte[]> recent = java.util.Collections.synchronizedMap(new java.util.LinkedHashMap<>(64, 0.75f, true));
    private long hotBytes;

    @Inject
    public ResultCache(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** The stable id of a request. */
    public static String key(String model, String analysis, String requestJson) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update((model + '\n' + analysis + '\n' + requestJson).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The stored result for (model, analysis, request), or {@code compute}'s, which is then stored. Exceptions of
     * {@code compute} pass through unchanged and nothing is stored.
     */
    public <T> Cached<T> getOrCompute(String model, String analysis, String requestJson, Class<T> type, Supplier<T> compute) {
        @SuppressWarnings("unchecked") T[] computed = (T[]) new Object[1];
        CachedJson c = getOrComputeJson(model, analysis, requestJson, () -> computed[0] = compute.get());
        T value = computed[0] != null && !c.hit() ? computed[0] : decode(c.json(), type);
        return new Cached<>(value, c.hit(), c.key());
    }

    /**
     * As {@link #getOrCompute}, answering the result as JSON: a hit is served without decoding it, so cached answers
     * cost a lookup and a copy.
     */
    public CachedJson getOrComputeJson(String model, String analysis, String requestJson, Supplier<?> compute) {
        String key = key(model, analysis, requestJson);
        byte[] hot = recent.get(key);
        if (hot != null) return new CachedJson(hot, true, key);
        byte[] stored = load(key);
        if (stored != null) return new CachedJson(remember(key, gunzip(stored)), true, key);

        CompletableFuture<byte[]> mine = new CompletableFuture<>();
        CompletableFuture<byte[]> running = inFlight.putIfAbsent(key, mine);
        if (running != null) {
            try {
                return new CachedJson(running.get(), true, key);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for " + analysis, e);
            } catch (ExecutionException e) {
                // the other computation failed: compute ourselves (and fail the same way, with our own stack)
                return new CachedJson(toJson(compute.get()), false, key);
            }
        }
        try {
            byte[] json = toJson(compute.get());
            store(key, model, analysis, requestJson, gzip(json));
            remember(key, json);
            mine.complete(json);
            return new CachedJson(json, false, key);
        } catch (RuntimeException | Error e) {
            mine.completeExceptionally(e);
            throw e;
        } finally {
            inFlight.remove(key, mine);
        }
    }

    /** The stored result of {@code analysis} with this key, as JSON, if there is one (a shared link reopening it). */
    public java.util.Optional<byte[]> findJson(String key, String analysis) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT result FROM result_cache WHERE cache_key = ? AND analysis = ?")) {
            ps.setString(1, key);
            ps.setString(2, analysis);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? java.util.Optional.of(remember(key, gunzip(rs.getBytes(1)))) : java.util.Optional.empty();
            }
        } catch (SQLException e) {
            LOG.warnf("result cache read failed: %s", e.getMessage());
            return java.util.Optional.empty();
        }
    }

    /** Keeps a result in memory too (a small LRU bounded by bytes), so hot results skip the database. */
    private byte[] remember(String key, byte[] json) {
        if (json.length <= MAX_HOT_BYTES / 4) {
            synchronized (recent) {
                byte[] old = recent.put(key, json);
                hotBytes += json.length - (old == null ? 0 : old.length);
                var it = recent.entrySet().iterator();
                while (hotBytes > MAX_HOT_BYTES && it.hasNext()) {
                    hotBytes -= it.next().getValue().length;
                    it.remove();
                }
            }
        }
        return json;
    }

    /** Which model (its fingerprint, as given when stored) a stored result of {@code analysis} belongs to, if there is one. */
    public java.util.Optional<String> modelOf(String key, String analysis) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT model FROM result_cache WHERE cache_key = ? AND analysis = ?")) {
            ps.setString(1, key);
            ps.setString(2, analysis);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? java.util.Optional.of(rs.getString(1)) : java.util.Optional.empty();
            }
        } catch (SQLException e) {
            LOG.warnf("result cache read failed: %s", e.getMessage());
            return java.util.Optional.empty();
        }
    }

    /** Number of stored results (for tests and monitoring). */
    public long size() {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM result_cache");
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            throw new IllegalStateException("result cache unavailable: " + e.getMessage(), e);
        }
    }

    private byte[] load(String key) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT result FROM result_cache WHERE cache_key = ?")) {
            ps.setString(1, key);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getBytes(1) : null;
            }
        } catch (SQLException e) {
            LOG.warnf("result cache read failed (computing instead): %s", e.getMessage());
            return null;
        }
    }

    private void store(String key, String model, String analysis, String requestJson, byte[] bytes) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement(
                     "MERGE INTO result_cache (cache_key, model, analysis, request, result) KEY (cache_key) VALUES (?, ?, ?, ?, ?)")) {
            ps.setString(1, key);
            ps.setString(2, truncate(model, 200));
            ps.setString(3, truncate(analysis, 100));
            ps.setString(4, requestJson);
            ps.setBytes(5, bytes);
            ps.executeUpdate();
        } catch (SQLException e) {
            LOG.warnf("result cache write failed (result not kept): %s", e.getMessage());
        }
    }

    private byte[] toJson(Object value) {
        try {
            return json.writeValueAsBytes(value);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static byte[] gzip(byte[] bytes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(bytes.length / 4 + 64);
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    private static byte[] gunzip(byte[] bytes) {
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(bytes))) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("stored result is unreadable: " + e.getMessage(), e);
        }
    }

    private <T> T decode(byte[] bytes, Class<T> type) {
        try {
            return json.readValue(bytes, type);
        } catch (IOException e) {
            throw new UncheckedIOException("stored result is unreadable: " + e.getMessage(), e);
        }
    }

    private static String truncate(String s, int max) { return s.length() <= max ? s : s.substring(0, max); }
}
