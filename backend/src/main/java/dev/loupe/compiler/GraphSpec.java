package dev.loupe.compiler;

import java.util.Set;
import java.util.TreeSet;

/**
 * What a compiled graph must do: the stages it covers (inclusive), the hooks it returns and the hooks it lets
 * callers overwrite. Equal specs give equal graphs, so a spec is the key of the runtime's graph cache.
 */
public record GraphSpec(int firstStage, int lastStage, Set<String> outputs, Set<String> patched) {
    public GraphSpec {
        if (firstStage < 0 || lastStage < firstStage) throw new IllegalArgumentException("bad stage range " + firstStage + ".." + lastStage);
        outputs = Set.copyOf(new TreeSet<>(outputs));
        patched = Set.copyOf(new TreeSet<>(patched));
    }

    public static GraphSpec plain(int first, int last) { return new GraphSpec(first, last, Set.of(), Set.of()); }

    @Override public String toString() {
        return "stages " + firstStage + ".." + lastStage + " out=" + new TreeSet<>(outputs) + " patched=" + new TreeSet<>(patched);
    }
}
