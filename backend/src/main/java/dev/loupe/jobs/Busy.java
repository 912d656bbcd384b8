package dev.loupe.jobs;

/**
 * Thrown when work cannot be admitted now: the caller's own limit is reached ({@link #clientLimit()}), or the server
 * is full (every compute slot taken and the queue full, or the wait ran out). The caller retries after
 * {@link #retryAfterSeconds()}.
 */
public final class Busy extends RuntimeException {
    private final boolean clientLimit;
    private final int retryAfterSeconds;

    public Busy(boolean clientLimit, int retryAfterSeconds, String message) {
        super(message, null, false, false);
        this.clientLimit = clientLimit;
        this.retryAfterSeconds = Math.max(1, retryAfterSeconds);
    }

    /** True when this client is over its own limit (HTTP 429); false when the server is full (HTTP 503). */
    public boolean clientLimit() { return clientLimit; }

    public int retryAfterSeconds() { return retryAfterSeconds; }
}
