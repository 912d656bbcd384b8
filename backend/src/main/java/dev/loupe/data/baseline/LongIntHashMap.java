package dev.loupe.data.baseline;

import java.util.Arrays;

/**
 * Counts keyed by non-negative longs (a bigram {@code prev·V + next}), open addressing with linear probing: no boxed
 * keys or entries, so a million bigram types cost ~24 MB instead of ~100 MB in a {@code HashMap<Long, Integer>}.
 */
public final class LongIntHashMap {
    private static final long EMPTY = -1;

    private long[] keys;
    private int[] values;
    private int size;

    public LongIntHashMap(int expected) {
        int capacity = Integer.highestOneBit(Math.max(16, expected * 2 - 1)) << 1;
        keys = new long[capacity];
        values = new int[capacity];
        Arrays.fill(keys, EMPTY);
    }

    /** Consumer of one entry. */
    @FunctionalInterface
    public interface EntryConsumer {
        void accept(long key, int value);
    }

    public int get(long key) {
        int i = find(key);
        return keys[i] == key ? values[i] : 0;
    }

    public void add(long key, int delta) {
        if (key < 0) throw new IllegalArgumentException("keys must be non-negative");
        int i = find(key);
        if (keys[i] == EMPTY) {
            keys[i] = key;
            size++;
        }
        values[i] += delta;
        if (size * 2 > keys.length) grow();
    }

    public int size() {
        return size;
    }

    public void forEach(EntryConsumer consumer) {
        for (int i = 0; i < keys.length; i++) if (keys[i] != EMPTY) consumer.accept(keys[i], values[i]);
    }

    /** The slot holding the key, or the empty slot where it would go. */
    private int find(long key) {
        int mask = keys.length - 1;
        int i = (int) (mix(key) & mask);
        while (keys[i] != EMPTY && keys[i] != key) i = (i + 1) & mask;
        return i;
    }

    private static long mix(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return h ^ (h >>> 32);
    }

    private void grow() {
        long[] oldKeys = keys;
        int[] oldValues = values;
        keys = new long[oldKeys.length * 2];
        values = new int[oldKeys.length * 2];
        Arrays.fill(keys, EMPTY);
        for (int i = 0; i < oldKeys.length; i++) {
            if (oldKeys[i] == EMPTY) continue;
            int j = find(oldKeys[i]);
            keys[j] = oldKeys[i];
            values[j] = oldValues[i];
        }
    }
}
