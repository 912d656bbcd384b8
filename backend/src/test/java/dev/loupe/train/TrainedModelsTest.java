package dev.loupe.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loupe.hooks.HookPoints;
import dev.loupe.model.LoadedModel;
import dev.loupe.model.ModelFolder;
import dev.loupe.model.Tensor;
import dev.loupe.runtime.Engine;
import dev.loupe.runtime.RunRequest;
import dev.loupe.runtime.RunResult;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The claims of the shipped toy models' cards, re-measured with the forward engine (not the trainer's graphs):
 * induction-2l has a head with an induction score of at least 0.4; modadd-113 is at least 99 % accurate on the
 * pairs it never saw.
 */
class TrainedModelsTest {
    static Path models() {
        Path p = Path.of("onnx-models");
        return Files.isDirectory(p) ? p : Path.of("..", "onnx-models");
    }

    static ModelFolder open(String name) throws Exception {
        Path dir = models().resolve(name);
        Assumptions.assumeTrue(Files.isDirectory(dir), "model " + name + " not present");
        return ModelFolder.open(dir);
    }

    @Test
    void inductionHeadsFormed() throws Exception {
        ModelFolder f = open("induction-2l");
        LoadedModel m = f.load();
        int vocab = f.config().dVocab(), len = 25, rows = 32;
        Random rnd = new Random(7);
        List<int[]> prompts = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            int[] p = new int[2 * len + 1];
            for (int i = 0; i < len; i++) p[1 + i] = p[1 + len + i] = 1 + rnd.nextInt(vocab - 1);
            prompts.add(p);
        }
        double best = 0;
        try (Engine e = Engine.create(m.weights())) {
            RunResult res = e.run(RunRequest.of(prompts).cacheRegex(".*hook_pattern"));
            for (int l = 0; l < f.config().nLayers(); l++) {
                Tensor pat = res.get(HookPoints.name(l, "attn.hook_pattern"));
                for (int h = 0; h < f.config().nHeads(); h++) {
                    double s = 0;
                    for (int r = 0; r < rows; r++)
                        for (int q = len + 1; q <= 2 * len; q++) s += pat.get(r, h, q, q - len + 1);
                    best = Math.max(best, s / (rows * len));
                }
            }
        }
        assertTrue(best >= 0.4, "best induction score " + best);
    }

    @Test
    void modularAdditionEmbeddingHasTheCardsKeyFrequencies() throws Exception {
        ModelFolder f = open("modadd-113");
        var s = dev.loupe.algorithmic.ModularAddition.spectrum(f.load().weights().get("wte.weight"), 113, 6);
        JsonNode card = f.provenance().path("evaluation");
        int[] keys = new int[card.path("key_frequencies").size()];
        for (int i = 0; i < keys.length; i++) keys[i] = card.path("key_frequencies").get(i).asInt();
        org.junit.jupiter.api.Assertions.assertArrayEquals(keys, s.keys());
        org.junit.jupiter.api.Assertions.assertEquals(card.path("key_power_fraction").asDouble(), s.keyFraction(), 1e-3);
        assertTrue(s.keyFraction() >= 0.8, "six key frequencies hold " + s.keyFraction() + " of the non-constant power, the card promises at least 80 %");
    }

    @Test
    void modularAdditionGeneralises() throws Exception {
        ModelFolder f = open("modadd-113");
        JsonNode recipe = new com.fasterxml.jackson.databind.ObjectMapper().readTree(f.dir().resolve("recipe.json").toFile()).path("task");
        int p = recipe.path("p").asInt();
        List<int[]> pairs = new ArrayList<>();
        for (int a = 0; a < p; a++) for (int b = 0; b < p; b++) pairs.add(new int[]{a, b});
        Collections.shuffle(pairs, new Random(recipe.path("split_seed").asLong()));
        List<int[]> test = pairs.subList((int) Math.round(recipe.path("train_fraction").asDouble() * pairs.size()), pairs.size());
        int correct = 0;
        try (Engine e = Engine.create(f.load().weights())) {
            for (int start = 0; start < test.size(); start += 1024) {
                List<int[]> prompts = new ArrayList<>();
                for (int[] ab : test.subList(start, Math.min(test.size(), start + 1024))) prompts.add(new int[]{ab[0], ab[1], p});
                Tensor logits = e.run(RunRequest.of(prompts)).logits();
                for (int r = 0; r < prompts.size(); r++) {
                    int best = 0;
                    for (int k = 1; k < p; k++) if (logits.get(r, 2, k) > logits.get(r, 2, best)) best = k;
                    if (best == (prompts.get(r)[0] + prompts.get(r)[1]) % p) correct++;
                }
            }
        }
        double acc = (double) correct / test.size();
        assertTrue(acc >= 0.99, "held-out accuracy " + acc);
    }
}
