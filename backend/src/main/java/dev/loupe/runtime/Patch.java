package dev.loupe.runtime;

import dev.loupe.model.Tensor;

/**
 * Overwrites the selected elements of a hook during a run. The value broadcasts (NumPy rules) to the hook's
 * shape for the run, so it can be another run's activation of the same hook (batch 1 broadcasts over rows),
 * a mean ({@link Tensor#meanOver}) or any tensor; a null value means zero. Later patches of the same hook
 * win where they overlap.
 */
public record Patch(String hook, Selector where, Tensor value) {
    public Patch {
        if (hook == null) throw new IllegalArgumentException("patch needs a hook name");
        if (where == null) where = Selector.all();
    }

    public static Patch zero(String hook, Selector where) { return new Patch(hook, where, null); }
    public static Patch of(String hook, Selector where, Tensor value) { return new Patch(hook, where, value); }
}
