package dev.loupe.runtime;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.loupe.compiler.CompiledGraph;
import dev.loupe.compiler.GraphCompiler;
import dev.loupe.compiler.GraphSpec;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Compiled graph variants, made on first use and kept in least-recently-used order. A variant in use is never
 * closed; idle ones beyond the limit are. Compiling happens outside the lock, so other runs go on meanwhile.
 */
final class SessionCache implements AutoCloseable {

    record Compiled(CompiledGraph graph, OrtSession session) {}

    private static final class Entry {
        final CompletableFuture<Compiled> future = new CompletableFuture<>();
        int users;
    }

    /** A variant held by one run; release it when the run is done. */
    final class Lease implements AutoCloseable {
        private final GraphSpec spec;
        private final Entry entry;
        final Compiled compiled;

        private Lease(GraphSpec spec, Entry entry, Compiled compiled) {
            this.spec = spec;
            this.entry = entry;
            this.compiled = compiled;
        }

        @Override public void close() { release(spec, entry); }
    }

    private final GraphCompiler compiler;
    private final OrtEnvironment env;
    private final EngineOptions options;
    private final LinkedHashMap<GraphSpec, Entry> entries = new LinkedHashMap<>(16, 0.75f, true);
    private int compilations;

    SessionCache(GraphCompiler compiler, OrtEnvironment env, EngineOptions options) {
        this.compiler = compiler;
        this.env = env;
        this.options = options;
    }

    Lease acquire(GraphSpec spec) {
        Entry e;
        boolean create = false;
        synchronized (this) {
            e = entries.get(spec);
            if (e == null) {
                e = new Entry();
                entries.put(spec, e);
                create = true;
                compilations++;
            }
            e.users++;
        }
        if (create) {
            try {
                e.future.complete(compile(spec));
            } catch (RuntimeException ex) {
                synchronized (this) { entries.remove(spec); }
                e.future.completeExceptionally(ex);
            }
        }
        try {
            return new Lease(spec, e, e.future.join());
        } catch (CompletionException ex) {
            synchronized (this) { e.users--; }
            throw ex.getCause() instanceof RuntimeException r ? r : ex;
        }
    }

    private Compiled compile(GraphSpec spec) {
        CompiledGraph graph = compiler.compile(spec);
        try {
            return new Compiled(graph, OrtRuntime.session(graph.model(), options.threads()));
        } catch (OrtException ex) {
            throw new EngineException("ONNX Runtime rejected the graph for " + spec + ": " + ex.getMessage(), ex);
        }
    }

    private synchronized void release(GraphSpec spec, Entry e) {
        e.users--;
        if (entries.size() <= options.maxSessions()) return;
        for (Iterator<Map.Entry<GraphSpec, Entry>> it = entries.entrySet().iterator(); it.hasNext() && entries.size() > options.maxSessions(); ) {
            Entry old = it.next().getValue();
            if (old.users == 0 && old.future.isDone() && !old.future.isCompletedExceptionally()) {
                it.remove();
                closeQuietly(old.future.join().session());
            }
        }
    }

    synchronized int size() { return entries.size(); }
    synchronized int compilations() { return compilations; }

    @Override public synchronized void close() {
        for (Entry e : entries.values())
            if (e.future.isDone() && !e.future.isCompletedExceptionally()) closeQuietly(e.future.join().session());
        entries.clear();
    }

    private static void closeQuietly(OrtSession s) {
        try {
            s.close();
        } catch (OrtException ignored) { /* already gone */ }
    }
}
