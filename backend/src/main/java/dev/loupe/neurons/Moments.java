package dev.loupe.neurons;

/** Small numeric helpers shared by the index's statistics. */
final class Moments {
    private Moments() {
    }

    /** Histogram bin of {@code x} among {@code bins} equal bins over [lo, hi]; the maximum falls in the last bin. */
    static int bin(double x, double lo, double hi, int bins) {
        if (!(hi > lo)) return 0;
        int b = (int) Math.floor((x - lo) / (hi - lo) * bins);
        return Math.max(0, Math.min(bins - 1, b));
    }

    /** SplitMix64's finaliser: a well-mixed 64-bit hash, used to pick seeded band examples independently of scan order. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
