package dev.loupe.jobs;

/** Thrown by a long computation that stops because its caller cancelled it. */
public final class Cancelled extends RuntimeException {
    public Cancelled() {
        super("cancelled", null, false, false);
    }
}
