package dev.loupe.runtime;

/** A failure inside ONNX Runtime (not a bad request, which is an IllegalArgumentException). */
public class EngineException extends RuntimeException {
    public EngineException(String message, Throwable cause) { super(message, cause); }
}
