package dev.loupe.store;

import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ResultCacheTest {

    public record Result(String name, List<Double> values) {}

    private static JdbcDataSource database(Path dir, boolean migrate) throws Exception {
        JdbcDataSource ds = new JdbcDataSource();
        ds.setURL("jdbc:h2:file:" + dir.resolve("loupe") + ";AUTO_SERVER=FALSE");
        ds.setUser("loupe");
        ds.setPassword("loupe");
        if (migrate) {
            String sql = Files.readString(Path.of("src/main/resources/db/migration/V1__result_cache_and_jobs.sql"));
            try (Connection c = ds.getConnection(); var st = c.createStatement()) {
                for (String stmt : sql.replaceAll("(?m)^--.*$", "").split(";")) if (!stmt.isBlank()) st.execute(stmt);
            }
        }
        return ds;
    }

    @Test
    void secondRequestIsAHitAndSurvivesAReopen(@TempDir Path dir) throws Exception {
        AtomicInteger computed = new AtomicInteger();
        ResultCache cache = new ResultCache(database(dir, true));
        var first = cache.getOrCompute("m", "lens", "{\"text\":\"hi\"}", Result.class, () -> {
            computed.incrementAndGet();
            return new Result("a", List.of(1.5, 2.0));
        });
        assertFalse(first.hit());
        var second = cache.getOrCompute("m", "lens", "{\"text\":\"hi\"}", Result.class, () -> {
            computed.incrementAndGet();
            return new Result("b", List.of());
        });
        assertTrue(second.hit());
        assertEquals(first.value(), second.value());
        assertEquals(first.key(), second.key());
        assertEquals(1, computed.get());

        // a fresh instance on the same database file, as after a restart
        try (Connection c = database(dir, false).getConnection(); var st = c.createStatement()) {
            st.execute("SHUTDOWN");
        }
        ResultCache reopened = new ResultCache(database(dir, false));
        var third = reopened.getOrCompute("m", "lens", "{\"text\":\"hi\"}", Result.class, () -> {
            throw new AssertionError("should be served from the cache");
        });
        assertTrue(third.hit());
        assertEquals(new Result("a", List.of(1.5, 2.0)), third.value());
        assertEquals(1, reopened.size());
    }

    @Test
    void keysSeparateModelsAnalysesAndParameters(@TempDir Path dir) throws Exception {
        ResultCache cache = new ResultCache(database(dir, true));
        String k = ResultCache.key("m", "lens", "{}");
        assertNotEquals(k, ResultCache.key("m2", "lens", "{}"));
        assertNotEquals(k, ResultCache.key("m", "dla", "{}"));
        assertNotEquals(k, ResultCache.key("m", "lens", "{\"a\":1}"));
        assertFalse(cache.getOrCompute("m", "x", "1", Result.class, () -> new Result("1", List.of())).hit());
        assertFalse(cache.getOrCompute("m", "x", "2", Result.class, () -> new Result("2", List.of())).hit());
        assertEquals("1", cache.getOrCompute("m", "x", "1", Result.class, () -> null).value().name());
    }

    @Test
    void failuresAreNotStored(@TempDir Path dir) throws Exception {
        ResultCache cache = new ResultCache(database(dir, true));
        assertThrows(IllegalArgumentException.class, () -> cache.getOrCompute("m", "x", "1", Result.class, () -> {
            throw new IllegalArgumentException("bad input");
        }));
        assertEquals(0, cache.size());
        assertFalse(cache.getOrCompute("m", "x", "1", Result.class, () -> new Result("ok", List.of())).hit());
    }
}
