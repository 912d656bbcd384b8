package dev.loupe.generation;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.analysis.Subject;
import dev.loupe.jobs.Progress;
import dev.loupe.runtime.Engine;
import dev.loupe.runtime.Fixture;
import dev.loupe.tokenizer.Gpt2Tokenizer;
import dev.loupe.tokenizer.ListTokenizer;
import dev.loupe.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Greedy and sampled continuations against the PyTorch reference (fixtures/generation.json), and the rule's identities. */
class GenerationTest {

    static Tokenizer tokenizer(int vocab) {
        if (vocab == Gpt2Tokenizer.VOCAB_SIZE) return Gpt2Tokenizer.get();
        List<String> words = new ArrayList<>();
        for (int i = 0; i < vocab; i++) words.add("t" + i);
        return new ListTokenizer(words);
    }

    @Test
    void continuationsMatchThePyTorchReference() throws Exception {
        JsonNode cases;
        try (InputStream in = GenerationTest.class.getResourceAsStream("/fixtures/generation.json")) {
            cases = new ObjectMapper().readTree(in).get("cases");
        }
        Map<String, Fixture> fixtures = new HashMap<>();
        int checked = 0;
        for (JsonNode c : cases) {
            Fixture f = fixtures.computeIfAbsent(c.get("fixture").asText(), Fixture::load);
            try (Engine e = Engine.create(f.weights())) {
                Subject s = new Subject(e, f.weights(), tokenizer(f.config().dVocab()));
                int[] prompt = new int[c.get("prompt").size()];
                for (int i = 0; i < prompt.length; i++) prompt[i] = c.get("prompt").get(i).asInt();
                var o = new Generation.Options(c.get("max_new").asInt(), c.get("temperature").asDouble(), c.get("top_k").asInt(),
                        c.get("seed").asLong(), c.get("stop_at_eos").asBoolean());
                var r = Generation.generate(s, prompt, o, Progress.NONE);
                List<Integer> want = new ArrayList<>();
                c.get("generated").forEach(x -> want.add(x.asInt()));
                List<Integer> got = r.steps().stream().map(st -> st.token().id()).toList();
                String what = c.get("fixture").asText() + " " + o;
                assertEquals(want, got, what);
                for (int i = 0; i < want.size(); i++) assertEquals(c.get("probs").get(i).asDouble(), r.steps().get(i).prob(), 1e-4, what + " step " + i);
                assertEquals(prompt.length + got.size(), r.ids().size());
                if (prompt.length + o.maxNew() > f.config().nCtx()) {
                    assertEquals("context", r.stopped(), what);
                    assertEquals(f.config().nCtx(), r.ids().size());
                } else if (!r.stopped().equals("eos")) assertEquals(o.maxNew(), got.size());
                checked++;
            }
        }
        assertEquals(15, checked);
    }

    @Test
    void aSeedGivesOneContinuationAndTheRuleIsTheModelsDistribution() {
        Fixture f = Fixture.load("odd_3l");
        try (Engine e = Engine.create(f.weights())) {
            Subject s = new Subject(e, f.weights(), tokenizer(f.config().dVocab()));
            int[] prompt = f.prompts().get(0);
            var o = new Generation.Options(8, 1.0, 0, 99, false);
            var a = Generation.generate(s, prompt, o, Progress.NONE);
            var b = Generation.generate(s, prompt, o, Progress.NONE);
            assertEquals(a.ids(), b.ids());
            var other = Generation.generate(s, prompt, new Generation.Options(8, 1.0, 0, 100, false), Progress.NONE);
            assertNotEquals(a.ids(), other.ids());
            // at temperature 1 over every token, a token is drawn with its probability under the model
            for (var st : a.steps()) assertEquals(st.prob(), st.sampleProb(), 1e-9);
            // top-1 sampling is greedy, whatever the seed or temperature
            var greedy = Generation.generate(s, prompt, new Generation.Options(8, 0, 0, 0, false), Progress.NONE);
            var top1 = Generation.generate(s, prompt, new Generation.Options(8, 2.5, 1, 5, false), Progress.NONE);
            assertEquals(greedy.ids(), top1.ids());
            for (var st : greedy.steps()) assertEquals(st.top().get(0).id(), st.token().id());
            assertEquals("t" + prompt[0], a.text().split(" ")[0], "no BOS in this vocabulary: the text starts with the prompt");
            assertTrue(a.retokenizes(), "a word-list text tokenizes back to its ids");
        }
    }

    @Test
    void theDrawsAreSplitMix64() {
        // the first outputs of SplitMix64 seeded with 0 (Vigna's reference implementation)
        var r = new Generation.SplitMix64(0);
        assertEquals(0xE220A8397B1DCDAFL, r.next());
        assertEquals(0x6E789E6AA1B965F4L, r.next());
        assertEquals(0x06C45D188009454FL, r.next());
    }
}
