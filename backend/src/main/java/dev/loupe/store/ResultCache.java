package dev.loupe.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;

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
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Analysis results in H2, addressed by a stable key derived from (model, analysis, request). A repeated
 * request is answered from here, also after a restart.
 */
@ApplicationScoped
public class ResultCache {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final AgroalDataSource db;

    public ResultCache(AgroalDataSource db) {
        this.db = db;
    }

    /** A result with whether it came from the cache. */
    public record Cached<T>(T value, boolean hit) {}

    /** The stable key: SHA-256 over model, analysis and the request's canonical JSON. */
    public static String key(String model, String analysis, JsonNode request) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update((model + "\n" + analysis + "\n" + canonical(request)).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Returns the cached result for the request, computing and storing it on a miss. */
    public <T> Cached<T> getOrCompute(String model, String analysis, JsonNode request, Class<T> type, Supplier<T> compute) {
        String key = key(model, analysis, request);
        Optional<byte[]> stored = load(key);
        if (stored.isPresent()) {
            try {
                return new Cached<>(JSON.readValue(stored.get(), type), true);
            } catch (IOException e) {
                // written by an older version of the result type: recompute and overwrite
            }
        }
        T value = compute.get();
        try {
            store(key, model, analysis, request, JSON.writeValueAsBytes(value));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new Cached<>(value, false);
    }

    public Optional<byte[]> load(String key) {
        try (Connection c = db.getConnection();
             PreparedStatement s = c.prepareStatement("SELECT result FROM result_cache WHERE cache_key = ?")) {
            s.setString(1, key);
            try (ResultSet r = s.executeQuery()) {
                return r.next() ? Optional.of(r.getBytes(1)) : Optional.empty();
            }
        } catch (SQLException e) {
            throw new IllegalStateException("result cache read failed: " + e.getMessage(), e);
        }
    }

    private void store(String key, String model, String analysis, JsonNode request, byte[] result) {
        try (Connection c = db.getConnection();
             PreparedStatement s = c.prepareStatement(
                     "MERGE INTO result_cache (cache_key, model, analysis, request, result) KEY (cache_key) VALUES (?, ?, ?, ?, ?)")) {
            s.setString(1, key);
            s.setString(2, model);
            s.setString(3, analysis);
            s.setString(4, canonical(request));
            s.setBytes(5, result);
            s.executeUpdate();
        } catch (SQLException e) {
            throw new IllegalStateException("result cache write failed: " + e.getMessage(), e);
        }
    }

    /** Deletes every cached result of a model (after its weights changed). */
    public int evictModel(String model) {
        try (Connection c = db.getConnection();
             PreparedStatement s = c.prepareStatement("DELETE FROM result_cache WHERE model = ?")) {
            s.setString(1, model);
            return s.executeUpdate();
        } catch (SQLException e) {
            throw new IllegalStateException("result cache eviction failed: " + e.getMessage(), e);
        }
    }

    /** JSON with object keys sorted, so equal requests give equal keys. */
    static String canonical(JsonNode request) {
        try {
            Object tree = JSON.treeToValue(request, Object.class);
            return JSON.copy().configure(com.fasterxml.jackson.databind.SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true)
                    .writeValueAsString(tree);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
