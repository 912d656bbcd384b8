package dev.loupe.cli;

import dev.loupe.model.Safetensors;
import dev.loupe.model.Tensor;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The PyTorch anchor of a bench: a script under tools/reference run with the Python that has PyTorch. A command mixes
 * this in for {@code --python}, names its own script, and runs it either with arguments (its output back) or on
 * tensors in a safetensors file ({@code --input}, {@code --out}, {@code --threads}; the result file back).
 */
final class TorchReference {
    @Option(names = "--python", defaultValue = "/usr/bin/python3", description = "Python with PyTorch (default: ${DEFAULT-VALUE})")
    String python;

    /** Fails before any work when the script is missing. */
    static void check(Path script) {
        if (!Files.isRegularFile(script)) throw new CliException("PyTorch reference script not found: " + script);
    }

    /** Runs the script with {@code args}; its output (stdout and stderr), or a CliException carrying it. */
    String run(Path script, List<String> args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(python, script.toString()));
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) throw new CliException("PyTorch reference " + script.getFileName() + " failed:\n" + output.strip());
        return output;
    }

    /** What a caller reads from the script's result file. */
    interface Reader<T> {
        T read(Safetensors out) throws IOException;
    }

    /** Writes the tensors and metadata to a temporary input file, runs the script on it with {@code threads}, and reads its result file. */
    <T> T onTensors(Path script, int threads, Map<String, Tensor> tensors, Map<String, String> metadata, Reader<T> reader)
            throws IOException, InterruptedException {
        Path in = Files.createTempFile("loupe-bench-in-", ".safetensors"), out = Files.createTempFile("loupe-bench-out-", ".safetensors");
        try {
            Safetensors.write(in, tensors, metadata);
            run(script, List.of("--input", in.toString(), "--out", out.toString(), "--threads", String.valueOf(threads)));
            try (Safetensors st = Safetensors.open(out)) {
                return reader.read(st);
            }
        } finally {
            Files.deleteIfExists(in);
            Files.deleteIfExists(out);
        }
    }
}
