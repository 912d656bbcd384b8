package dev.loupe.train;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * The train/test split of modular addition: a shuffle of all p² pairs (a, b) with {@code java.util.Random(seed)},
 * the first {@code fraction} of them for training. Shared by the trainer and the analyses that mark the pairs.
 */
public record ModAddSplit(int p, int[][] train, int[][] test) {

    public static ModAddSplit of(int p, double fraction, long seed) {
        List<int[]> pairs = new ArrayList<>();
        for (int a = 0; a < p; a++) for (int b = 0; b < p; b++) pairs.add(new int[]{a, b});
        Collections.shuffle(pairs, new Random(seed));
        int n = (int) Math.round(fraction * pairs.size());
        return new ModAddSplit(p, pairs.subList(0, n).toArray(new int[0][]), pairs.subList(n, pairs.size()).toArray(new int[0][]));
    }

    /** isTrain[a][b]. */
    public boolean[][] trainMask() {
        boolean[][] m = new boolean[p][p];
        for (int[] ab : train) m[ab[0]][ab[1]] = true;
        return m;
    }
}
