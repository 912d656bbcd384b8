package dev.loupe.model;

import java.io.IOException;
import java.nio.file.Path;

/** A safetensors file that cannot be read; the message names the file and what is wrong with it. */
public class SafetensorsException extends IOException {
    public SafetensorsException(Path file, String problem) {
        super(file.getFileName() + ": " + problem);
    }
}
