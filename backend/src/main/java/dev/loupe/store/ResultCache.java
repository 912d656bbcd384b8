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

    private final DataSource dataSource;
    private final ObjectMapper json = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
    private final ConcurrentHashMap<String, CompletableFuture<byte[]>> inFlight = new ConcurrentHashMap<>();

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
        String key = key(model, analysis, requestJson);
        byte[] stored = load(key);
        if (stored != null) return new Cached<>(decode(stored, type), true, key);

        CompletableFuture<byte[]> mine = new CompletableFuture<>();
        CompletableFuture<byte[]> running = inFlight.putIfAbsent(key, mine);
        if (running != null) {
            try {
                return new Cached<>(decode(running.get(), type), true, key);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for " + analysis, e);
            } catch (ExecutionException e) {
                // the other computation failed: compute ourselves (and fail the same way, with our own stack)
                T value = compute.get();
                return new Cached<>(value, false, key);
            }
        }
        try {
            T value = compute.get();
            byte[] bytes = encode(value);
            store(key, model, analysis, requestJson, bytes);
            mine.complete(bytes);
            return new Cached<>(value, false, key);
        } catch (RuntimeException | Error e) {
            mine.completeExceptionally(e);
            throw e;
        } finally {
            inFlight.remove(key, mine);
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

    private byte[] encode(Object value) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            json.writeValue(gz, value);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    private <T> T decode(byte[] bytes, Class<T> type) {
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(bytes))) {
            return json.readValue(in, type);
        } catch (IOException e) {
            throw new UncheckedIOException("stored result is unreadable: " + e.getMessage(), e);
        }
    }

    private static String truncate(String s, int max) { return s.length() <= max ? s : s.substring(0, max); }
}
