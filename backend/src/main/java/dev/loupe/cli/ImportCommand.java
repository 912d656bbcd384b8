package dev.loupe.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.model.GptConfig;
import dev.loupe.model.ModelImporter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "import", description = "Import a GPT-2 safetensors file as a Loupe model folder.")
final class ImportCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "FILE.safetensors") Path file;
    @Option(names = "--name", required = true, description = "model name (folder name)") String name;
    @Option(names = "--config", paramLabel = "config.json", description = "Hugging Face config.json (default: from the file's metadata or inferred)")
    Path config;
    @Option(names = "--n-head", description = "number of heads when inferring the config") Integer nHead;
    @Mixin ModelsDir models;

    @Override
    public Integer call() throws IOException {
        GptConfig cfg = null;
        if (config != null) {
            if (!Files.isRegularFile(config)) throw new CliException("no such config file: " + config);
            try {
                cfg = GptConfig.fromJson(new ObjectMapper().readTree(config.toFile()));
            } catch (IOException | IllegalArgumentException e) {
                throw new CliException(config.getFileName() + ": " + e.getMessage());
            }
        }
        Path dir = ModelImporter.importFile(file, name, models.resolve(), cfg, nHead);
        System.out.println("imported " + name + " into " + dir);
        return 0;
    }
}
