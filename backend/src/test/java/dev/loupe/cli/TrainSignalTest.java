package dev.loupe.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code train} in its own JVM, sent SIGTERM mid-run (what {@code kill} and container stops do): it must finish the
 * step under way, leave a resumable checkpoint and exit with 128 + 15, not crash in native code.
 */
class TrainSignalTest {
    @TempDir Path dir;

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // a child that never exits would otherwise block readLine for ever
    void sigtermStopsAfterTheStepAndLeavesAResumableCheckpoint() throws Exception {
        Path recipe = dir.resolve("recipe.json");
        Files.writeString(recipe, """
                {"name": "sig", "description": "test",
                 "config": {"n_layer": 2, "n_head": 4, "n_embd": 256, "n_inner": 1024, "n_positions": 3, "vocab_size": 98},
                 "task": {"type": "modadd", "p": 97, "train_fraction": 0.5, "split_seed": 1},
                 "batch": 0, "seq": 3, "steps": 100000, "lr": 0.001, "seed": 3,
                 "log_every": 1, "eval_every": 100000, "checkpoint_every": 100000}""");
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), LoupeCli.class.getName(),
                "train", recipe.toString(), "--models", dir.resolve("models").toString(), "--work", dir.resolve("work").toString())
                .directory(dir.toFile()).redirectErrorStream(true).start();
        List<String> lines = new ArrayList<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            boolean signalled = false;
            while ((line = out.readLine()) != null) {
                lines.add(line);
                if (!signalled && line.contains("step 5/")) {
                    p.toHandle().destroy(); // SIGTERM, keeping the output stream open (Process.destroy would close it)
                    signalled = true;
                }
            }
        }
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "exits");
        String log = String.join("\n", lines);
        assertEquals(143, p.exitValue(), log);
        assertTrue(log.contains("continue with --resume"), log);
        assertTrue(Files.exists(dir.resolve("work/checkpoint.safetensors")), log);
        try (Stream<Path> files = Files.list(dir)) {
            assertTrue(files.noneMatch(f -> f.getFileName().toString().startsWith("hs_err")), "no JVM crash report\n" + log);
        }
        assertFalse(Files.exists(dir.resolve("models/sig")), "no model from a stopped run");
    }
}
