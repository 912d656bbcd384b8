package dev.loupe.data.baseline;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A corpus small enough to do by hand. Vocabulary {0, 1, 2}, 2 is the separator. Training documents [0 1 0] and [1]
 * give the (history → target) pairs 2→0, 0→1, 1→0, 2→1: c(0) = c(1) = 2, N = 4; c(2·) = 2, c(0·) = 1, c(1·) = 1;
 * four distinct bigrams; N1+(·0) = |{2, 1}| = 2, N1+(·1) = |{0, 2}| = 2, N1+(·2) = 0, so T = 2. The held-out
 * document [0 0] asks for p(0 | 2) and p(0 | 0).
 */
class BaselineMathTest {
    static final int V = 3;
    static final int SEP = 2;
    static final List<int[]> TRAIN = List.of(new int[]{0, 1, 0}, new int[]{1});
    static final List<int[]> HELD = List.of(new int[]{0, 0});
    static final BigramCounts COUNTS = BigramCounts.of(TRAIN, V, SEP);

    @Test
    void addOneUnigram() {
        // p(0) = (2 + 1) / (4 + 1·3) = 3/7 for both tokens
        assertEquals(Math.log(7.0 / 3), NextTokenModel.nats(new AddKUnigram(COUNTS, 1), HELD, SEP), 1e-12);
    }

    @Test
    void jelinekMercer() {
        // λ = 1/2 over the add-one unigram: p(0|2) = ½·½ + ½·3/7 = 13/28; p(0|0) = ½·0/1 + ½·3/7 = 3/14
        var model = new JelinekMercerBigram(COUNTS, new AddKUnigram(COUNTS, 1), 0.5);
        assertEquals(-(Math.log(13.0 / 28) + Math.log(3.0 / 14)) / 2, NextTokenModel.nats(model, HELD, SEP), 1e-12);
    }

    @Test
    void kneserNey() {
        // d0 = ½: p_kn(0) = (2 − ½)/4 + ½·2/4·⅓ = 3/8 + 1/12 = 11/24
        // d = ½:  p(0|2) = (1 − ½)/2 + ½·2/2·11/24 = 23/48;  p(0|0) = 0 + ½·1/1·11/24 = 11/48
        var model = new KneserNeyBigram(COUNTS, 0.5, 0.5);
        assertEquals(11.0 / 24, model.continuation(0), 1e-15);
        assertEquals(1.0 / 12, model.continuation(2), 1e-15);
        assertEquals(-(Math.log(23.0 / 48) + Math.log(11.0 / 48)) / 2, NextTokenModel.nats(model, HELD, SEP), 1e-12);
    }

    @Test
    void everyModelIsADistribution() {
        List<NextTokenModel> models = List.of(new AddKUnigram(COUNTS, 0.3),
                new JelinekMercerBigram(COUNTS, new AddKUnigram(COUNTS, 0.3), 0.7), new KneserNeyBigram(COUNTS, 0.8, 0.3));
        for (NextTokenModel m : models) {
            for (int prev = 0; prev < V; prev++) {
                double sum = 0;
                for (int next = 0; next < V; next++) sum += Math.exp(m.logProb(prev, next));
                assertEquals(1, sum, 1e-12, m.getClass().getSimpleName() + " after " + prev);
            }
        }
    }

    @Test
    void tuningPrefersBigramsOnRepetitiveText() {
        List<int[]> docs = List.of(new int[]{0, 1, 0, 1, 0, 1}, new int[]{1, 0, 1, 0}, new int[]{0, 1, 0, 1});
        Baselines.Report r = Baselines.measure(docs.subList(0, 2), docs.subList(2, 3), docs.subList(0, 3), docs.subList(2, 3), V, SEP);
        assertEquals(14, r.trainTokens());
        assertEquals(4, r.validationTokens());
        assertTrue(r.bigram().heldOutNats() < r.unigram().heldOutNats());
    }

    @Test
    void hashMapCountsThroughGrowth() {
        LongIntHashMap map = new LongIntHashMap(4);
        for (long k = 0; k < 10_000; k++) map.add(k * 50_257 + 7, (int) (k % 3) + 1);
        map.add(7, 5);
        assertEquals(10_000, map.size());
        assertEquals(6, map.get(7));
        assertEquals(3, map.get(2 * 50_257 + 7));
        assertEquals(0, map.get(8));
    }
}
