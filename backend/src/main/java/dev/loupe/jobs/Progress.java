package dev.loupe.jobs;

/**
 * What a long computation (a patching sweep, a neuron index, circuit discovery) reports while it runs,
 * and how it learns that its caller gave up. The job service hands one to every job; the command line
 * and tests pass {@link #NONE}.
 */
public interface Progress {

    /** The fraction done (0..1) and a short human-readable step; cheap enough to call per batch. */
    void report(double fraction, String message);

    /** True once the caller cancelled; the computation then stops by throwing {@link Cancelled}. */
    boolean cancelled();

    /** Throws {@link Cancelled} when the caller cancelled: call it between units of work. */
    default void checkCancelled() {
        if (cancelled()) throw new Cancelled();
    }

    /** Ignores reports and is never cancelled. */
    Progress NONE = new Progress() {
        @Override public void report(double fraction, String message) { }
        @Override public boolean cancelled() { return false; }
    };
}
