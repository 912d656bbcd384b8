package dev.loupe.cli;

/** A user-facing failure: printed as one line, no stack trace. */
final class CliException extends RuntimeException {
    CliException(String message) { super(message); }
}
