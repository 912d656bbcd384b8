package dev.loupe.runtime;

import dev.loupe.hooks.Axis;
import dev.loupe.hooks.HookPoint;

import java.util.Arrays;

/**
 * Which elements of a hook a patch overwrites: batch rows, positions (query positions for attention patterns),
 * key positions, heads, and features (the last dimension: neurons, residual dimensions, d_head components).
 * A null array selects everything along that axis; axes a hook does not have are ignored.
 */
public record Selector(int[] rows, int[] positions, int[] keyPositions, int[] heads, int[] features) {

    public static Selector all() { return new Selector(null, null, null, null, null); }

    public static Selector rows(int... r) { return all().withRows(r); }
    public static Selector positions(int... p) { return all().withPositions(p); }
    public static Selector heads(int... h) { return all().withHeads(h); }
    public static Selector neurons(int... n) { return all().withFeatures(n); }

    public Selector withRows(int... r) { return new Selector(r.clone(), positions, keyPositions, heads, features); }
    public Selector withPositions(int... p) { return new Selector(rows, p.clone(), keyPositions, heads, features); }
    public Selector withKeyPositions(int... k) { return new Selector(rows, positions, k.clone(), heads, features); }
    public Selector withHeads(int... h) { return new Selector(rows, positions, keyPositions, h.clone(), features); }
    public Selector withFeatures(int... f) { return new Selector(rows, positions, keyPositions, heads, f.clone()); }

    /** The selected indices along dimension {@code dim} of {@code hook} (null: all), checked against {@code size}. */
    int[] along(HookPoint hook, int dim, int size) {
        Axis a = hook.axes().get(dim);
        int[] sel = switch (a) {
            case BATCH -> rows;
            case POS, QUERY_POS -> positions;
            case KEY_POS -> keyPositions;
            case HEAD -> heads;
            case ONE -> null;
            default -> dim == hook.rank() - 1 ? features : null;
        };
        if (sel == null) return null;
        for (int i : sel)
            if (i < 0 || i >= size)
                throw new IllegalArgumentException("patch of " + hook.name() + ": " + a.name().toLowerCase() + " index " + i + " is outside [0, " + size + ")");
        return sel;
    }

    @Override public String toString() {
        return "Selector[rows=" + Arrays.toString(rows) + ", positions=" + Arrays.toString(positions) + ", keys=" + Arrays.toString(keyPositions)
                + ", heads=" + Arrays.toString(heads) + ", features=" + Arrays.toString(features) + "]";
    }
}
