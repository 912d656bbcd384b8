package dev.loupe.circuits;

import dev.loupe.model.GptConfig;
import dev.loupe.tokenizer.Gpt2Tokenizer;
import dev.loupe.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CircuitDatasetTest {
    static final Tokenizer TOK = Gpt2Tokenizer.get();
    static final GptConfig CFG = new GptConfig(2, 2, 16, 64, 32, GptConfig.GPT2_VOCAB);

    static String error(String json) {
        return assertThrows(IllegalArgumentException.class, () -> CircuitDataset.parse(json, TOK, CFG, true)).getMessage();
    }

    @Test void textPairsAreTokenizedWithBos() {
        CircuitDataset d = CircuitDataset.parse("{\"prompts\":[{\"clean\":\"The boys\",\"corrupt\":\"The boy\",\"answer\":\" were\",\"wrong\":\" was\"}]}", TOK, CFG, true);
        assertEquals(3, d.pair(0).length());
        assertEquals(TOK.bosId(), d.pair(0).clean()[0]);
        assertEquals(TOK.encodeText(" were")[0], d.pair(0).answer());
        CircuitDataset noBos = CircuitDataset.parse("{\"prompts\":[{\"clean\":\"The boys\",\"corrupt\":\"The boy\",\"answer\":\" were\",\"wrong\":\" was\"}]}", TOK, CFG, false);
        assertEquals(2, noBos.pair(0).length());
    }

    @Test void tokenPairsRoundTrip() {
        CircuitDataset d = CircuitDataset.parse("{\"prompts\":[{\"clean_tokens\":[1,2,3],\"corrupt_tokens\":[1,5,3],\"answer_token\":7,\"wrong_token\":8}]}", TOK, CFG, true);
        assertArrayEquals(new int[]{1, 2, 3}, d.pair(0).clean());
        assertArrayEquals(new int[]{1, 5, 3}, CircuitDataset.fromJson(d.toJson(), TOK, CFG, true).pair(0).corrupt());
    }

    @Test void errorsNameThePair() {
        String ok = "{\"clean_tokens\":[1,2],\"corrupt_tokens\":[1,3],\"answer_token\":7,\"wrong_token\":8}";
        assertTrue(error("{\"prompts\":[" + ok + ",{\"clean_tokens\":[1,2,3],\"corrupt_tokens\":[1,3],\"answer_token\":7,\"wrong_token\":8}]}")
                .startsWith("pair 1: clean and corrupted prompts must have the same number of tokens, got 3 and 2"));
        assertTrue(error("{\"prompts\":[{\"clean\":\"a\",\"corrupt\":\"b\",\"answer\":\" hello world\",\"wrong\":\" x\"}]}")
                .startsWith("pair 0: the answer \" hello world\" must be a single token"));
        assertTrue(error("{\"prompts\":[{\"clean_tokens\":[1,99999],\"corrupt_tokens\":[1,3],\"answer_token\":7,\"wrong_token\":8}]}").contains("pair 0: token id 99999"));
        assertTrue(error("{\"prompts\":[{\"clean\":\"a\"}]}").contains("pair 0: \"corrupt\" must be a string"));
        assertTrue(error("{\"prompts\":[]}").contains("no prompts"));
        assertTrue(error("[1,2]").contains("\"prompts\""));
        assertTrue(error("{nope").startsWith("the dataset is not valid JSON"));
    }

    @Test void builtInTextTasksTokenizeToEqualLengths() {
        GptConfig cfg = new GptConfig(2, 2, 16, 64, 256, GptConfig.GPT2_VOCAB);
        for (String task : new String[]{"agreement", "quotes", "induction"}) {
            CircuitDataset d = CircuitTasks.generate(task, TOK, cfg, 40, 3);
            assertEquals(40, d.size(), task);
        }
        CircuitDataset q = CircuitTasks.generate("quotes", TOK, cfg, 1, 3);
        assertEquals(TOK.encodeText(".\"")[0], q.pair(0).answer());
        assertThrows(IllegalArgumentException.class, () -> CircuitTasks.generate("pronouns", TOK, cfg, 4, 1));
    }
}
