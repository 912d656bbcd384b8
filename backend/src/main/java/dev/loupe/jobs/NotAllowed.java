package dev.loupe.jobs;

/** Thrown when this server does not allow what was asked (e.g. building an index on the hosted demo): HTTP 403. */
public final class NotAllowed extends RuntimeException {
    public NotAllowed(String message) {
        super(message, null, false, false);
    }
}
