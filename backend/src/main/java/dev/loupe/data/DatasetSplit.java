package dev.loupe.data;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A train / held-out split by whole documents, stratified by genre so every genre is evaluated: in each genre,
 * {@code max(1, round(n × fraction))} documents are held out (none when the genre has a single document). Which
 * ones is decided by ranking the documents on a seeded hash of their id, so the split depends only on the ids,
 * genres, fraction and seed — not on file order, the JVM or the platform.
 */
public final class DatasetSplit {
    public static final String TRAIN = "train";
    public static final String HELD_OUT = "heldout";
    public static final double DEFAULT_FRACTION = 0.05;
    public static final long DEFAULT_SEED = 1234;

    /** The minimum a split needs to know about a document. */
    public record Entry(String id, String genre) {
    }

    private DatasetSplit() {
    }

    /** The ids of the held-out documents. */
    public static Set<String> heldOut(List<Entry> documents, double fraction, long seed) {
        if (!(fraction > 0 && fraction < 1)) throw new IllegalArgumentException("fraction must be in (0, 1): " + fraction);
        Map<String, List<Entry>> byGenre = new LinkedHashMap<>();
        for (Entry e : documents) byGenre.computeIfAbsent(e.genre(), g -> new ArrayList<>()).add(e);
        Set<String> held = new HashSet<>();
        for (List<Entry> genre : byGenre.values()) {
            if (genre.size() < 2) continue;
            int k = Math.max(1, (int) Math.round(genre.size() * fraction));
            genre.stream()
                    .sorted(Comparator.comparingLong((Entry e) -> rank(e.id(), seed)).thenComparing(Entry::id))
                    .limit(k)
                    .forEach(e -> held.add(e.id()));
        }
        return held;
    }

    /** A well-mixed 64-bit hash of (seed, id): SplitMix64's finaliser over a polynomial hash of the id. */
    static long rank(String id, long seed) {
        long h = seed;
        for (int i = 0; i < id.length(); i++) h = h * 1_000_003L + id.charAt(i);
        h += 0x9E3779B97F4A7C15L;
        h = (h ^ (h >>> 30)) * 0xBF58476D1CE4E5B9L;
        h = (h ^ (h >>> 27)) * 0x94D049BB133111EBL;
        return h ^ (h >>> 31);
    }
}
