package dev.loupe.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.model.GptWeights;
import dev.loupe.model.ModelFolder;
import dev.loupe.model.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The trainer: loss goes down, runs are reproducible, a run stopped and resumed equals an uninterrupted one. */
class TrainerTest {
    static Recipe recipe(int steps) throws Exception {
        ObjectNode o = (ObjectNode) new ObjectMapper().readTree("""
                {"name": "tiny-modadd", "description": "test",
                 "config": {"n_layer": 1, "n_head": 2, "n_embd": 16, "n_inner": 32, "n_positions": 3, "vocab_size": 12},
                 "task": {"type": "modadd", "p": 11, "train_fraction": 0.5, "split_seed": 1},
                 "batch": 0, "seq": 3, "lr": 0.01, "warmup": 2, "weight_decay": 0.5, "seed": 3,
                 "log_every": 2, "eval_every": 4, "checkpoint_every": 3, "dropout": 0.1}""");
        o.put("steps", steps);
        return Recipe.of(o, "tiny");
    }

    static Trainer.Summary train(Recipe r, Path work, Path model, boolean resume) throws Exception {
        PrintStream out = new PrintStream(new ByteArrayOutputStream());
        return new Trainer(r, Task.create(r, Path.of(".")), new Trainer.Options(work, model, resume, 1, out)).run();
    }

    static Tensor weight(Path model, String name) throws Exception {
        ModelFolder f = ModelFolder.open(model);
        return GptWeights.load(f.weightsFile(), f.config()).get(name);
    }

    @Test
    void resumedRunEqualsUninterruptedRun(@TempDir Path tmp) throws Exception {
        Trainer.Summary full = train(recipe(6), tmp.resolve("w1"), tmp.resolve("m1"), false);
        Trainer.Summary again = train(recipe(6), tmp.resolve("w2"), tmp.resolve("m2"), false);
        // stop after step 3 (a checkpoint), then resume to 6
        train(recipe(3), tmp.resolve("w3"), tmp.resolve("m3"), false);
        assertThrows(IllegalStateException.class, () -> train(recipe(6), tmp.resolve("w3"), tmp.resolve("m3"), false));
        Trainer.Summary resumed = train(recipe(6), tmp.resolve("w3"), tmp.resolve("m3"), true);
        for (String w : new String[]{"wte.weight", "h.0.attn.c_attn.weight", "h.0.mlp.c_proj.bias", "ln_f.weight"}) {
            assertArrayEquals(weight(tmp.resolve("m1"), w).data(), weight(tmp.resolve("m2"), w).data(), "reproducible " + w);
            assertArrayEquals(weight(tmp.resolve("m1"), w).data(), weight(tmp.resolve("m3"), w).data(), "resumed " + w);
        }
        assertEquals(full.finalEval(), again.finalEval());
        assertEquals(full.finalEval(), resumed.finalEval());
        assertEquals(full.tokens(), resumed.tokens());
        assertTrue(Files.readString(tmp.resolve("m1/CARD.md")).contains("test_accuracy"));
        // logged at 2 and 3 (the end of the short run), then 4 and 6 after resuming: no step twice
        assertEquals(java.util.List.of("2", "3", "4", "6"), Files.readAllLines(tmp.resolve("w3/train.csv")).stream().skip(1)
                .map(l -> l.split(",")[0]).toList());
    }

    @Test
    void stopRequestMidRunCheckpointsAndResumesExactly(@TempDir Path tmp) throws Exception {
        train(recipe(6), tmp.resolve("w1"), tmp.resolve("m1"), false);
        Recipe r = recipe(6);
        Trainer[] trainer = new Trainer[1];
        // what a Ctrl-C does, at the first progress line (after step 2; checkpoints are due only every 3 steps)
        PrintStream out = new PrintStream(new ByteArrayOutputStream()) {
            @Override
            public PrintStream printf(java.util.Locale l, String format, Object... args) {
                if (format.contains("step %d/%d  loss")) trainer[0].requestStop();
                return super.printf(l, format, args);
            }
        };
        trainer[0] = new Trainer(r, Task.create(r, Path.of(".")), new Trainer.Options(tmp.resolve("w2"), tmp.resolve("m2"), false, 1, out));
        Trainer.Summary stopped = trainer[0].run();
        assertEquals(2, stopped.steps());
        assertTrue(!stopped.complete() && !Files.exists(tmp.resolve("m2")), "a stopped run leaves a checkpoint, not a model");
        Trainer.Summary resumed = train(recipe(6), tmp.resolve("w2"), tmp.resolve("m2"), true);
        assertTrue(resumed.complete());
        for (String w : new String[]{"wte.weight", "h.0.attn.c_attn.weight", "ln_f.weight"})
            assertArrayEquals(weight(tmp.resolve("m1"), w).data(), weight(tmp.resolve("m2"), w).data(), "resumed " + w);
    }

    @Test
    void lossFallsAndScheduleWarmsUpThenDecays(@TempDir Path tmp) throws Exception {
        Recipe r = recipe(40);
        assertEquals(0.005, r.lrAt(0), 1e-12);
        assertEquals(0.01, r.lrAt(1), 1e-12);
        assertEquals(0.001, r.lrAt(40), 1e-9);
        Recipe stable = Recipe.of(r.json().deepCopy().put("decay_steps", 10), "stable");
        assertEquals(0.01, stable.lrAt(29), 1e-12, "holds until the last decay_steps");
        assertEquals(0.001 + 0.5 * 0.009 * (1 + Math.cos(Math.PI * 0.5)), stable.lrAt(35), 1e-12);
        assertEquals(0.001, stable.lrAt(40), 1e-9);
        train(r, tmp.resolve("w"), tmp.resolve("m"), false);
        var rows = Files.readAllLines(tmp.resolve("w/train.csv"));
        double first = Double.parseDouble(rows.get(1).split(",")[2]), last = Double.parseDouble(rows.get(rows.size() - 1).split(",")[2]);
        assertTrue(last < first * 0.8, "training loss " + first + " -> " + last);
    }
}
