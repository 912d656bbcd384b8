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
 * induction-2l and the default language model have a head with an induction score of at least 0.4; modadd-113 is at least 99 % accurate on the
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
        double best = bestInductionScore(open("induction-2l"), 0);
        assertTrue(best >= 0.4, "best induction score " + best);
    }

    /** The default language model's card promises an induction head too (GPT-2 tokenizer: BOS is <|endoftext|>). */
    @Test
    void defaultModelHasAnInductionHead() throws Exception {
        List<ModelFolder> folders = new ArrayList<>();
        try (var dirs = Files.list(models())) {
            for (Path d : dirs.sorted().toList())
                if (Files.isRegularFile(d.resolve(ModelFolder.MANIFEST))) folders.add(ModelFolder.open(d));
        }
        // the app's own choice, so the model checked is the one a user meets first
        ModelFolder f = ModelFolder.chooseDefault(folders, java.util.Optional.empty()).orElse(null);
        Assumptions.assumeTrue(f != null, "no models");
        double best = bestInductionScore(f, f.config().dVocab() - 1);
        assertTrue(best >= 0.4, f.name() + ": best induction score " + best);
        double card = f.provenance().path("evaluation").path("induction_score").asDouble();
        assertTrue(card >= 0.4, f.name() + "'s card says " + card);
    }

    /**
     * The best head's mean attention from each token of the second copy of 25 random tokens to the token after its
     * first occurrence, over 32 sequences {@code bos} + r + r (r avoids token 0, the toy models' BOS, and bos).
     */
    static double bestInductionScore(ModelFolder f, int bos) throws Exception {
        LoadedModel m = f.load();
        int vocab = f.config().dVocab(), len = 25, rows = 32;
        Random rnd = new Random(7);
        List<int[]> prompts = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            int[] p = new int[2 * len + 1];
            p[0] = bos;
            for (int i = 0; i < len; i++) {
                int id;
                do id = 1 + rnd.nextInt(vocab - 1); while (id == bos);
                p[1 + i] = p[1 + len + i] = id;
            }
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
        return best;
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
