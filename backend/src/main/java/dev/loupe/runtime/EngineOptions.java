package dev.loupe.runtime;

import dev.loupe.compiler.GraphCompiler.WeightMode;

/**
 * How an {@link Engine} compiles and runs graphs.
 *
 * @param fused       one graph for the whole range of a run instead of one per stage (kept for measurements:
 *                    per-stage graphs are as fast and make start/stop and variants cheap)
 * @param weightMode  weights fed as shared inputs (default) or baked into each graph
 * @param maxSessions idle compiled graphs kept before the least recently used are closed
 * @param threads     ONNX Runtime intra-op threads (shared by every session of the process)
 * @param maxUnread   bytes of run outputs left unread in native memory across open results; beyond it the
 *                    oldest open results are copied to the heap and their native memory freed
 */
public record EngineOptions(boolean fused, WeightMode weightMode, int maxSessions, int threads, long maxUnread) {
    public static EngineOptions defaults() {
        return new EngineOptions(false, WeightMode.INPUTS, 96, Runtime.getRuntime().availableProcessors(), 1L << 30);
    }

    public EngineOptions withFused(boolean f) { return new EngineOptions(f, weightMode, maxSessions, threads, maxUnread); }
    public EngineOptions withWeightMode(WeightMode m) { return new EngineOptions(fused, m, maxSessions, threads, maxUnread); }
    public EngineOptions withMaxSessions(int n) { return new EngineOptions(fused, weightMode, n, threads, maxUnread); }
    public EngineOptions withMaxUnread(long bytes) { return new EngineOptions(fused, weightMode, maxSessions, threads, bytes); }
}
