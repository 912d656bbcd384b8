package dev.loupe.weights;

import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.model.ModelFolder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Times of the exact search of a head's top pairs (rank max) at GPT-2's vocabulary, per head and circuit, with the
 * share of entries it computed: brown-6l (trained, d_head 32) and random models of GPT-2's vocabulary. Run with
 * {@code -Dloupe.searchtimes=true}; it measures, it asserts nothing.
 */
@EnabledIfSystemProperty(named = "loupe.searchtimes", matches = "true")
class HeadSearchTimesTest {
    static final int ROWS = 10;

    static void time(String name, FoldedWeights w, int maxHeads) {
        GptConfig c = w.config();
        List<Double> all = new ArrayList<>();
        int heads = 0;
        for (int l = 0; l < c.nLayers() && heads < maxHeads; l++)
            for (int h = 0; h < c.nHeads() && heads < maxHeads; h++, heads++)
                for (String circuit : List.of("QK", "OV")) {
                    LowRank m = circuit.equals("QK") ? HeadCircuits.qk(w, l, h) : HeadCircuits.ov(w, l, h);
                    for (boolean negative : new boolean[]{false, true}) {
                        long t0 = System.nanoTime();
                        long[] visited = new long[1];
                        m.topRows(ROWS, negative, visited);
                        double ms = (System.nanoTime() - t0) / 1e6;
                        all.add(ms);
                        System.out.printf(Locale.ROOT, "%s L%d H%d %s %s: %.0f ms, %.2f%% of the entries%n", name, l, h, circuit,
                                negative ? "negative" : "positive", ms, 100.0 * visited[0] / ((double) m.rows() * m.cols()));
                    }
                }
        all.sort(null);
        System.out.printf(Locale.ROOT, "%s (d_head %d): %d searches, median %.0f ms, max %.0f ms%n", name, c.dHead(), all.size(),
                all.get(all.size() / 2), all.get(all.size() - 1));
    }

    @Test
    void brown6l() throws Exception {
        Path dir = Path.of("..", "onnx-models", "brown-6l");
        if (!Files.isDirectory(dir)) dir = Path.of("onnx-models", "brown-6l");
        ModelFolder f = ModelFolder.open(dir);
        time("brown-6l", FoldedWeights.of(GptWeights.load(f.weightsFile(), f.config())), Integer.MAX_VALUE);
    }

    @Test
    void randomModels() {
        // d_model 128 as brown-6l: 4 heads of 32, and 1 head of 128; GPT-2 small's heads of 64
        time("random 50257x128, 4 heads", FoldedWeights.of(GptWeights.random(new GptConfig(1, 4, 128, 512, 64, 50257), 1, true)), 2);
        time("random 50257x128, 1 head", FoldedWeights.of(GptWeights.random(new GptConfig(1, 1, 128, 512, 64, 50257), 1, true)), 1);
        time("random 50257x768, 12 heads", FoldedWeights.of(GptWeights.random(new GptConfig(1, 12, 768, 3072, 64, 50257), 1, true)), 1);
    }
}
