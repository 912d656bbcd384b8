package dev.loupe.algorithmic;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.jobs.Progress;
import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.runtime.Engine;
import dev.loupe.train.ModAddSplit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** ModularAddition against torch.fft on a random p = 31 model with frequencies 4 and 11 planted in its embedding. */
class AlgorithmicFixtureTest {
    static JsonNode expected;
    static GptWeights weights;
    static Engine engine;
    static int p;

    @BeforeAll
    static void load() throws Exception {
        Path dir = Path.of(AlgorithmicFixtureTest.class.getResource("/fixtures/algorithmic_p31.json").toURI()).getParent();
        expected = new ObjectMapper().readTree(dir.resolve("algorithmic_p31.json").toFile());
        weights = GptWeights.load(dir.resolve("algorithmic_p31.safetensors"), GptConfig.fromJson(expected.get("config")));
        engine = Engine.create(weights);
        p = expected.get("p").asInt();
    }

    @AfterAll
    static void close() { engine.close(); }

    @Test
    void embeddingSpectrumAndKeyFrequencies() {
        ModularAddition.Spectrum s = ModularAddition.spectrum(weights.get("wte.weight"), p, 6);
        JsonNode power = expected.get("power");
        assertEquals(power.size(), s.power().length);
        for (int k = 0; k < power.size(); k++) assertEquals(power.get(k).asDouble(), s.power()[k], 1e-4 * power.get(k).asDouble() + 1e-6, "power " + k);
        assertArrayEquals(new int[]{4, 11}, java.util.Arrays.copyOf(s.keys(), 2), "the planted frequencies are the key ones");
        assertEquals(expected.get("key_fraction").asDouble(), s.keyFraction(), 1e-5);
    }

    @Test
    void answerProbabilitiesAndNeuronFrequencies() {
        ModularAddition.Grid g = ModularAddition.grid(engine, p, Progress.NONE);
        for (int a = 0; a < p; a++)
            for (int b = 0; b < p; b++) {
                assertEquals(expected.get("answer_prob").get(a).get(b).asDouble(), g.answerProb()[a][b], 2e-5, "p(answer) at " + a + "," + b);
                assertEquals(expected.get("correct").get(a).get(b).asBoolean(), g.correct()[a][b], "correct at " + a + "," + b);
            }
        JsonNode share = expected.get("neuron_share");
        assertEquals(share.size(), g.neuronFreq().length);
        for (int n = 0; n < share.size(); n++) {
            for (int k = 1; k <= p / 2; k++) assertEquals(share.get(n).get(k).asDouble(), g.neuronPower()[n][k], 1e-5, "neuron " + n + " k " + k);
            assertEquals(expected.get("neuron_freq").get(n).asInt(), g.neuronFreq()[n], "neuron " + n);
            double sum = 0;
            for (int k = 1; k <= p / 2; k++) sum += g.neuronPower()[n][k];
            assertEquals(true, sum <= 1 + 1e-9, "shares of distinct bins sum to at most 1");
        }
        assertThrows(IllegalArgumentException.class, () -> g.neuron(g.neuronFreq().length));
    }

    @Test
    void modulusIsReadOffTheVocabulary() {
        List<String> vocab = new ArrayList<>();
        for (int i = 0; i < 113; i++) vocab.add(String.valueOf(i));
        vocab.add("=");
        assertEquals(113, ModularAddition.modulus(vocab));
        assertEquals(-1, ModularAddition.modulus(List.of("the", "cat", "=")));
        assertEquals(-1, ModularAddition.modulus(vocab.subList(0, 113)));
    }

    @Test
    void splitIsTheTrainersShuffle() {
        // the first pairs of java.util.Collections.shuffle with Random(0), also reproduced by tools/train_torch
        ModAddSplit s = ModAddSplit.of(113, 0.3, 0);
        assertEquals(3831, s.train().length);
        assertArrayEquals(new int[]{93, 71}, s.train()[0]);
        assertArrayEquals(new int[]{100, 73}, s.train()[3830]);
        assertEquals(3831, java.util.Arrays.stream(s.trainMask()).mapToLong(r -> { int c = 0; for (boolean x : r) if (x) c++; return c; }).sum());
    }
}
