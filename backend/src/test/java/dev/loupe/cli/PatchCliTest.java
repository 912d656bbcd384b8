package dev.loupe.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.jobs.Progress;
import dev.loupe.patching.ActivationPatching;
import dev.loupe.patching.PatchMetric;
import dev.loupe.patching.PatchMode;
import dev.loupe.patching.PatchingResult;
import dev.loupe.patching.PromptPair;
import dev.loupe.patching.Sweep;
import dev.loupe.runtime.Engine;
import dev.loupe.runtime.Fixture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static dev.loupe.cli.CliTest.cli;
import static org.junit.jupiter.api.Assertions.*;

/** {@code ./loupe patch} on the odd_3l fixture model: the file holds the core's numbers; bad input names the problem and writes nothing. */
class PatchCliTest {
    static final String CLEAN = "299,17,5,23,9,31", CORRUPT = "299,17,8,23,9,31";
    static final String TEXT = "t299 t3 t14 t15 t9 t2 t6 t5 t35 t8 t12";
    @TempDir Path dir;

    @Test
    void theMeanOverATextIsTheCoresAndBadInputIsRefused() throws Exception {
        Fixture fx = Fixture.load("odd_3l");
        Path models = dir.resolve("models");
        CliTest.fixtureModel(fx, models.resolve("odd"));
        String m = models.toString();
        Path out = dir.resolve("mean.json");
        CliTest.Outcome r = cli("patch", "odd", "--clean-tokens", CLEAN, "--corrupt-tokens", CORRUPT, "--metric", "logit_diff:-1:11:42",
                "--sweep", "head_out_by_pos", "--direction", "mean", "--mean-text", TEXT, "--no-bos", "--attribution", "--out", out.toString(), "--models-dir", m);
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(out.toFile());
        int[] text = {299, 3, 14, 15, 9, 2, 6, 5, 35, 8, 12};
        assertEquals(text.length, j.get("mean_text_tokens").size());
        assertEquals(35, j.get("mean_text_tokens").get(8).asInt());
        try (Engine e = Engine.create(fx.weights())) {
            PatchingResult core = ActivationPatching.prepare(e, List.of(new PromptPair(PromptIds.parse(CLEAN, ""), PromptIds.parse(CORRUPT, ""))),
                    List.of(PatchMetric.parse("logit_diff:-1:11:42")), Sweep.parse("head_out_by_pos", fx.config()), PatchMode.MEAN, text).sweep(0, Progress.NONE);
            // the nested values in row-major order
            List<Double> values = java.util.Arrays.stream(j.get("values").toString().replaceAll("[\\[\\]]", "").split(",")).map(Double::valueOf).toList();
            assertEquals(core.values().length, values.size());
            for (int i = 0; i < values.size(); i++) assertEquals(core.values()[i], values.get(i), 1e-6, "value " + i);
        }
        assertEquals("mean", j.get("direction").asText());
        assertTrue(j.get("attribution").isArray());

        record Bad(String says, String[] extra) {}
        for (Bad b : List.of(new Bad("--mean-text is empty", new String[]{"--direction", "mean", "--mean-text", " "}),
                new Bad("the mean text is 40 tokens, longer than the model's context of 32", new String[]{"--direction", "mean", "--mean-text", "t1 ".repeat(40)}),
                new Bad("unknown token 'nosuchword'", new String[]{"--direction", "mean", "--mean-text", "t1 nosuchword"}),
                new Bad("only by --direction mean", new String[]{"--direction", "zero", "--mean-text", TEXT}),
                new Bad("attention patterns", new String[]{"--direction", "mean", "--mean-text", TEXT, "--sweep", "head_pattern"}),
                new Bad("'x' in --clean-tokens is not a token id", new String[]{"--clean-tokens", "1,x"}),
                new Bad("token id 399 at position 1 of the corrupted prompt is outside the vocabulary", new String[]{"--corrupt-tokens", "299,399,8,23,9,31"}))) {
            Path never = dir.resolve("never.json");
            List<String> args = new ArrayList<>(List.of("patch", "odd", "--metric", "logit_diff:-1:11:42", "--no-bos", "--out", never.toString(), "--models-dir", m));
            args.addAll(List.of(b.extra()));
            if (!args.contains("--clean-tokens")) args.addAll(List.of("--clean-tokens", CLEAN));
            if (!args.contains("--corrupt-tokens")) args.addAll(List.of("--corrupt-tokens", CORRUPT));
            if (!args.contains("--sweep")) args.addAll(List.of("--sweep", "resid_pre"));
            CliTest.Outcome bad = cli(args.toArray(String[]::new));
            assertEquals(1, bad.code(), b.says() + ": " + bad.err());
            assertTrue(bad.err().contains(b.says()), bad.err());
            assertFalse(bad.err().contains("\tat "), "no stack trace");
            assertFalse(Files.exists(never));
        }
    }
}
