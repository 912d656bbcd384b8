package dev.loupe.neurons;

import java.util.Arrays;

/** The indices of the k largest (or smallest) values, best first, the lower index first among equal values. */
final class TopK {
    private TopK() {
    }

    static int[] indices(float[] values, int k, boolean largest) {
        k = Math.min(k, values.length);
        int[] best = new int[k];
        int size = 0;
        for (int i = 0; i < values.length; i++) {
            float x = largest ? values[i] : -values[i];
            if (size == k && !(x > (largest ? values[best[k - 1]] : -values[best[k - 1]]))) continue;
            int at = size == k ? k - 1 : size++;
            while (at > 0 && x > (largest ? values[best[at - 1]] : -values[best[at - 1]])) {
                best[at] = best[at - 1];
                at--;
            }
            best[at] = i;
        }
        return Arrays.copyOf(best, size);
    }
}
