package dev.loupe.jobs;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One kind of long work (a patching sweep, a neuron index, circuit discovery). Declare it as an
 * {@code @ApplicationScoped} bean: the job service finds every bean of this type and runs jobs of its
 * {@link #name()}.
 */
public interface JobKind {

    /** The kind's name in the API and the job table: "patching", "neurons-index", "circuits", ... */
    String name();

    /** Checks the parameters when the job is submitted: throw IllegalArgumentException (a 400) naming the problem. */
    default void check(JsonNode params) { }

    /**
     * True when the kind passes the compute scheduler itself, unit by unit (a neuron index: per batch), so that a long
     * job shares the compute slots with interactive requests instead of holding one for its whole run.
     */
    default boolean schedulesItself() { return false; }

    /**
     * True when the job writes lasting data beyond a cached result (e.g. a neuron index in the data directory); the
     * hosted demo runs such jobs only for the models its operator allows ({@code loupe.demo.index-models}).
     */
    default boolean writes() { return false; }

    /** The memory the run needs at its peak, admitted against the server's memory budget. */
    long expectedBytes(JsonNode params);

    /**
     * Does the work, reporting progress and stopping with {@link Cancelled} when {@code progress.cancelled()};
     * returns the result's id (a {@code ResultCache} key) or null.
     */
    String run(JsonNode params, Progress progress) throws Exception;
}
