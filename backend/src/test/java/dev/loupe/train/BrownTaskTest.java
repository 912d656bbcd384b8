package dev.loupe.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.data.CorpusDocument;
import dev.loupe.data.DatasetBuilder;
import dev.loupe.data.TokenDataset;
import dev.loupe.data.TaggedWord;
import dev.loupe.grad.Backprop;
import dev.loupe.hooks.HookPoints;
import dev.loupe.model.LoadedModel;
import dev.loupe.model.ModelFolder;
import dev.loupe.model.Tensor;
import dev.loupe.runtime.Engine;
import dev.loupe.runtime.RunRequest;
import dev.loupe.runtime.RunResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.HashMap;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Brown task's repeated spans, and the induction probe it (and the induction task) report. */
class BrownTaskTest {
    static final int SEQ = 32;

    /** A small corpus in the Brown dataset format: 30 documents of 80 random words, the last 3 held out. */
    static Path corpus(Path dir) throws Exception {
        Random rnd = new Random(1);
        String[] lexicon = {"the", "cat", "sat", "on", "a", "mat", "dog", "ran", "far", "away", "birds", "fly", "over", "hills", "and", "rivers"};
        List<CorpusDocument> docs = new ArrayList<>();
        Set<String> heldOut = new HashSet<>();
        for (int d = 0; d < 30; d++) {
            List<TaggedWord> words = new ArrayList<>();
            for (int w = 0; w < 80; w++) words.add(new TaggedWord(lexicon[rnd.nextInt(lexicon.length)], "nn"));
            docs.add(new CorpusDocument("d" + d, "news", words));
            if (d >= 27) heldOut.add("d" + d);
        }
        DatasetBuilder.write(new DatasetBuilder().build(docs, heldOut), new DatasetBuilder.Provenance("test", "inline", 0.1, 1), dir);
        return dir;
    }

    static Recipe recipe(Path data, String repeat) throws Exception {
        ObjectNode o = (ObjectNode) new ObjectMapper().readTree("""
                {"name": "tiny-brown", "description": "test",
                 "config": {"n_layer": 1, "n_head": 2, "n_embd": 16, "n_inner": 32, "n_positions": 32, "vocab_size": 50257},
                 "task": {"type": "brown", "eval_batch": 4, "repeat": %s},
                 "batch": 8, "seq": 32, "steps": 2, "lr": 0.01, "warmup": 1, "seed": 3, "eval_every": 2}""".formatted(repeat));
        ((ObjectNode) o.get("task")).put("dir", data.toString());
        return Recipe.of(o, "tiny");
    }

    /** The window of a row: its inputs and the last target. */
    static int[] window(Task.StepBatch b, int row) {
        int[] w = new int[b.len() + 1];
        System.arraycopy(b.tokens(), row * b.len(), w, 0, b.len());
        long[] targets = b.ports().idx(); // cross-entropy ports: one target per position
        for (int i = 0; i + 1 < b.len(); i++) assertEquals(w[i + 1], targets[row * b.len() + i], "targets are the inputs shifted");
        w[b.len()] = (int) targets[row * b.len() + b.len() - 1];
        return w;
    }

    /** Each row of the first steps of {@code repeated} is the natural window with one span of min–max tokens written {@code copies} times. */
    private static void assertEveryRowRepeatsOneSpan(BrownTask natural, BrownTask repeated, int min, int max, int copies) {
        for (long step = 0; step < 5; step++) {
            Task.StepBatch a = natural.batch(step), b = repeated.batch(step);
            for (int r = 0; r < a.rows(); r++) {
                int[] n = window(a, r), w = window(b, r);
                boolean found = false;
                for (int len = min; len <= max && !found; len++)
                    for (int s = 0; s + copies * len <= n.length && !found; s++) {
                        int[] expect = n.clone();
                        for (int c = 1; c < copies; c++) System.arraycopy(n, s, expect, s + c * len, len);
                        found = java.util.Arrays.equals(expect, w);
                    }
                assertTrue(found, "step " + step + " row " + r + " is its natural window with one span of " + min + "–" + max
                        + " tokens written " + copies + " times");
            }
        }
    }

    @Test
    void aShareOfRowsRepeatsASpanOfItsOwnWindowTwiceOrMoreAndTheRestIsTheNaturalWindow(@TempDir Path tmp) throws Exception {
        Path data = corpus(tmp.resolve("brown"));
        BrownTask natural = new BrownTask(recipe(data, "{}"), data);
        BrownTask always = new BrownTask(recipe(data, "{\"share\": 1, \"min_len\": 4, \"max_len\": 8}"), data);
        assertEveryRowRepeatsOneSpan(natural, always, 4, 8, 2);
        // or several times in a row
        BrownTask four = new BrownTask(recipe(data, "{\"share\": 1, \"min_len\": 3, \"max_len\": 8, \"copies\": 4}"), data);
        assertEveryRowRepeatsOneSpan(natural, four, 3, 8, 4);
        var tooLong = assertThrows(IllegalArgumentException.class,
                () -> new BrownTask(recipe(data, "{\"share\": 1, \"min_len\": 3, \"max_len\": 9, \"copies\": 4}"), data));
        assertTrue(tooLong.getMessage().contains("max_len <= (seq + 1) / copies = 8"), tooLong.getMessage());
        var one = assertThrows(IllegalArgumentException.class, () -> new BrownTask(recipe(data, "{\"share\": 1, \"copies\": 1}"), data));
        assertTrue(one.getMessage().contains("repeat.copies must be at least 2"), one.getMessage());
        BrownTask half = new BrownTask(recipe(data, "{\"share\": 0.5, \"min_len\": 4, \"max_len\": 8}"), data);
        int changed = 0, rows = 0;
        for (long step = 0; step < 50; step++) {
            Task.StepBatch a = natural.batch(step), b = half.batch(step);
            for (int r = 0; r < a.rows(); r++, rows++) if (!java.util.Arrays.equals(window(a, r), window(b, r))) changed++;
            assertArrayEquals(b.tokens(), half.batch(step).tokens(), "a step's batch depends only on the seed and the step");
        }
        assertTrue(changed > 0.4 * rows && changed < 0.6 * rows, changed + " of " + rows + " rows repeat a span");
    }

    @Test
    void aRandomShareOfRepeatedSpansIsRandomTokensWrittenTwiceAndTheRestOfTheWindowStaysNatural(@TempDir Path tmp) throws Exception {
        Path data = corpus(tmp.resolve("brown"));
        BrownTask natural = new BrownTask(recipe(data, "{}"), data);
        BrownTask random = new BrownTask(recipe(data, "{\"share\": 1, \"min_len\": 6, \"max_len\": 8, \"random\": 0.5}"), data);
        int randomRows = 0, rows = 0;
        for (long step = 0; step < 40; step++) {
            Task.StepBatch a = natural.batch(step), b = random.batch(step);
            for (int r = 0; r < a.rows(); r++, rows++) {
                int[] n = window(a, r), w = window(b, r);
                int first = 0, last = n.length - 1;
                while (first < n.length && n[first] == w[first]) first++;
                while (last >= 0 && n[last] == w[last]) last--;
                // the changed stretch lies inside one span written twice: [s, s + 2·len) with w[s..s+len) == w[s+len..s+2·len)
                boolean found = false;
                for (int len = 6; len <= 8 && !found; len++)
                    for (int s = Math.max(0, last - 2 * len + 1); s <= first && s + 2 * len <= n.length && !found; s++) {
                        boolean twice = true;
                        for (int i = 0; i < len && twice; i++) twice = w[s + i] == w[s + len + i];
                        found = twice;
                    }
                assertTrue(first > last || found, "step " + step + " row " + r + ": one span written twice, the rest natural");
                // a natural repeat keeps its first copy, so its changes start at the copy of earlier text; a random one does not
                if (first <= last && !spanIsNatural(n, w, first)) randomRows++;
            }
        }
        assertTrue(randomRows > 0.3 * rows && randomRows < 0.7 * rows, randomRows + " of " + rows + " rows repeat random tokens");
        var bad = assertThrows(IllegalArgumentException.class, () -> new BrownTask(recipe(data, "{\"share\": 0.1, \"random\": 2}"), data));
        assertTrue(bad.getMessage().contains("repeat.random must be between 0 and 1"), bad.getMessage());
    }

    /** True when the repeat that starts changing the window at {@code first} copies natural text (its first copy is the window's own). */
    private static boolean spanIsNatural(int[] n, int[] w, int first) {
        // a natural repeat leaves the first copy untouched, so the first changed token is the copy's start: it equals an earlier token of n
        for (int len = 6; len <= 8; len++)
            if (first - len >= 0) {
                boolean same = true;
                for (int i = 0; i < len && same && first + i < n.length; i++) same = w[first + i] == n[first - len + i];
                if (same) return true;
            }
        return false;
    }

    @Test
    void randomSpansOfARestrictedVocabularyUseOnlyTheMostFrequentTrainingTokens(@TempDir Path tmp) throws Exception {
        Path data = corpus(tmp.resolve("brown"));
        // the five most frequent tokens of the training documents, counted here
        Map<Integer, Long> counts = new HashMap<>();
        TokenDataset ds = TokenDataset.open(data);
        for (int t : ds.stream(false)) if (t != ds.eot()) counts.merge(t, 1L, Long::sum);
        Set<Integer> top = new HashSet<>(counts.entrySet().stream()
                .sorted((a, b) -> !a.getValue().equals(b.getValue()) ? Long.compare(b.getValue(), a.getValue()) : Integer.compare(a.getKey(), b.getKey()))
                .limit(5).map(Map.Entry::getKey).toList());
        BrownTask natural = new BrownTask(recipe(data, "{}"), data);
        BrownTask random = new BrownTask(recipe(data, "{\"share\": 1, \"min_len\": 6, \"max_len\": 8, \"random\": 1, \"vocab\": 5}"), data);
        int changed = 0;
        for (long step = 0; step < 10; step++) {
            Task.StepBatch a = natural.batch(step), b = random.batch(step);
            for (int r = 0; r < a.rows(); r++) {
                int[] n = window(a, r), w = window(b, r);
                for (int i = 0; i < n.length; i++)
                    if (n[i] != w[i]) {
                        changed++;
                        assertTrue(top.contains(w[i]), "step " + step + " row " + r + ": token " + w[i] + " is not one of the 5 most frequent " + top);
                    }
            }
        }
        assertTrue(changed > 100, changed + " tokens changed");
        var tooMany = assertThrows(IllegalArgumentException.class,
                () -> new BrownTask(recipe(data, "{\"share\": 1, \"random\": 1, \"vocab\": 40000}"), data));
        assertTrue(tooMany.getMessage().contains("repeat.vocab is 40000 but the training text has only " + counts.size() + " distinct tokens"), tooMany.getMessage());
        var noShare = assertThrows(IllegalArgumentException.class, () -> new BrownTask(recipe(data, "{\"random\": 0.5}"), data));
        assertTrue(noShare.getMessage().contains("repeat.random needs repeat.share above 0"), noShare.getMessage());
        var noRandom = assertThrows(IllegalArgumentException.class, () -> new BrownTask(recipe(data, "{\"share\": 0.5, \"vocab\": 5}"), data));
        assertTrue(noRandom.getMessage().contains("repeat.vocab needs repeat.random above 0"), noRandom.getMessage());
    }

    @Test
    void badRepeatSettingsNameTheProblem(@TempDir Path tmp) throws Exception {
        Path data = corpus(tmp.resolve("brown"));
        var share = assertThrows(IllegalArgumentException.class, () -> new BrownTask(recipe(data, "{\"share\": 1.5}"), data));
        assertTrue(share.getMessage().contains("repeat.share must be between 0 and 1"), share.getMessage());
        var spans = assertThrows(IllegalArgumentException.class, () -> new BrownTask(recipe(data, "{\"share\": 0.1, \"min_len\": 4, \"max_len\": 17}"), data));
        assertTrue(spans.getMessage().contains("max_len <= (seq + 1) / copies = 16"), spans.getMessage());
    }

    @Test
    void evaluationReportsInductionAndTheLossOnEachCopy(@TempDir Path tmp) throws Exception {
        Path data = corpus(tmp.resolve("brown"));
        Recipe r = recipe(data, "{\"share\": 0.2, \"min_len\": 4, \"max_len\": 8}");
        TrainerTest.train(r, tmp.resolve("w"), tmp.resolve("m"), false);
        List<String> eval = Files.readAllLines(tmp.resolve("w/eval.csv"));
        assertEquals("step,tokens,heldout_loss,heldout_tokens,induction_score,induction_score_common,common_loss_first,common_loss_second,"
                        + "random_loss_first,random_loss_second,text_loss_first,text_loss_second",
                eval.get(0));
        String card = Files.readString(tmp.resolve("m/CARD.md"));
        assertTrue(card.contains("### Induction") && card.contains("| 0.1 |"), card);
        assertTrue(card.contains("a span of 4–8 tokens of the window is written twice"), card);
    }

    /** The probe's head scores equal the same average computed from the engine's attention patterns. */
    @Test
    void probeHeadScoresEqualTheEnginesAttentionPatterns() throws Exception {
        ModelFolder f = TrainedModelsTest.open("induction-2l");
        LoadedModel m = f.load();
        int vocab = f.config().dVocab(), len = 25, rows = 8;
        InductionProbe probe = InductionProbe.random(f.config(), 0, 1, vocab, len, rows);
        InductionProbe.HeadScores s;
        try (Backprop bp = new Backprop(f.config(), 1)) {
            var feeds = bp.weightFeeds(m.weights());
            s = probe.headScores((spec, toks, ports) -> bp.run(spec, feeds, toks, ports));
        }
        Random rnd = new Random(12345);
        List<int[]> prompts = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            int[] p = new int[2 * len + 1];
            for (int i = 0; i < len; i++) p[1 + i] = p[1 + len + i] = 1 + rnd.nextInt(vocab - 1);
            prompts.add(p);
        }
        try (Engine e = Engine.create(m.weights())) {
            RunResult res = e.run(RunRequest.of(prompts).cacheRegex(".*hook_pattern"));
            for (int l = 0; l < f.config().nLayers(); l++) {
                Tensor pat = res.get(HookPoints.name(l, "attn.hook_pattern"));
                for (int h = 0; h < f.config().nHeads(); h++) {
                    double ind = 0, prev = 0;
                    for (int r = 0; r < rows; r++) {
                        for (int q = len + 1; q <= 2 * len; q++) ind += pat.get(r, h, q, q - len + 1);
                        for (int q = 1; q <= 2 * len; q++) prev += pat.get(r, h, q, q - 1);
                    }
                    assertEquals(ind / (rows * len), s.induction()[l][h], 1e-5, "induction " + l + "." + h);
                    assertEquals(prev / (rows * 2 * len), s.previous()[l][h], 1e-5, "previous " + l + "." + h);
                }
            }
        }
        assertTrue(s.maxInduction() >= 0.4, "induction-2l's best head " + s.maxInduction());
    }
}
