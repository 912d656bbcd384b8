package dev.loupe.cli;

import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The models directory option shared by commands: {@code --models-dir}, else {@code $LOUPE_MODELS}, else {@code onnx-models}. */
final class ModelsDir {
    @Option(names = "--models-dir", paramLabel = "DIR", description = "models directory (default: $LOUPE_MODELS or onnx-models)")
    Path dir;

    Path resolve() {
        if (dir != null) return dir;
        String env = System.getenv("LOUPE_MODELS");
        return Path.of(env != null && !env.isBlank() ? env : "onnx-models");
    }
}
