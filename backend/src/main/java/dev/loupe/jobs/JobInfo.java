package dev.loupe.jobs;

import com.fasterxml.jackson.databind.JsonNode;

import java.time.Instant;

/**
 * A job as the API shows it.
 *
 * @param state    {@link State}
 * @param progress 0..1
 * @param message  the last step the job reported
 * @param resultId the result's id (a {@code ResultCache} key) once done
 * @param error    why it failed, when it did
 * @param attempts how many times it was started (a job interrupted by a restart runs again)
 */
public record JobInfo(String id, String kind, String owner, JsonNode params, State state, double progress, String message,
                      String resultId, String error, Instant createdAt, Instant startedAt, Instant finishedAt, int attempts) {

    public enum State {
        QUEUED, RUNNING, DONE, FAILED, CANCELLED;

        public boolean finished() { return this == DONE || this == FAILED || this == CANCELLED; }
    }

    public boolean finished() { return state.finished(); }
}
