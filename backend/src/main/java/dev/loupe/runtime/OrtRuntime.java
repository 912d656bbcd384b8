package dev.loupe.runtime;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Collection;

/**
 * The process-wide ONNX Runtime environment with one intra-op thread pool shared by all sessions, so that many
 * compiled graphs do not each start their own threads.
 */
public final class OrtRuntime {
    private OrtRuntime() {}

    private static OrtEnvironment env;
    private static boolean globalThreads;
    private static int threadNice;

    /**
     * The nice value added to ONNX Runtime's shared threads when the environment is created later (they inherit it
     * from the thread that creates them); the server sets it so model compute yields the CPU to cached answers.
     */
    public static synchronized void lowerThreadPriority(int by) { threadNice = by; }

    /**
     * Creates the environment on a thread with a large stack: ONNX Runtime's start-up recurses deeply over the
     * process command line and overflows the JVM's default 1 MB main-thread stack when the class path is long.
     */
    public static synchronized OrtEnvironment env(int threads) {
        if (env == null) {
            int nice = threadNice;
            Thread t = new Thread(null, () -> {
                NativeThreads.lowerCurrentThreadPriority(nice);
                create(threads);
            }, "loupe-ort-init", 64L << 20);
            t.start();
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while starting ONNX Runtime", e);
            }
            if (env == null) throw new IllegalStateException("ONNX Runtime failed to start");
        }
        return env;
    }

    private static void create(int threads) {
        try (OrtEnvironment.ThreadingOptions t = new OrtEnvironment.ThreadingOptions()) {
            t.setGlobalIntraOpNumThreads(Math.max(1, threads));
            t.setGlobalInterOpNumThreads(1);
            env = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "loupe", t);
            globalThreads = true;
        } catch (OrtException | IllegalStateException e) {
            // someone else created the environment first: sessions get their own pools
            env = OrtEnvironment.getEnvironment();
            globalThreads = false;
        }
    }

    public static synchronized boolean globalThreads() { return globalThreads; }

    /**
     * Whether sessions keep ONNX Runtime's CPU arena (and memory patterns): system property {@code loupe.ort.cpu-arena}
     * or environment variable {@code LOUPE_ORT_CPU_ARENA}. An arena keeps the memory of a burst of large requests
     * for the life of the session; without it, freed buffers go back to the allocator (measured in docs/DEPLOY.md).
     */
    public static boolean cpuArena() {
        String v = System.getProperty("loupe.ort.cpu-arena", System.getenv("LOUPE_ORT_CPU_ARENA"));
        return v == null || v.isBlank() ? processArena || DEFAULT_CPU_ARENA : Boolean.parseBoolean(v.trim());
    }

    private static volatile boolean processArena;

    /**
     * For a process that runs the same large graph over and over (training, its bench): keep the CPU arena unless it
     * is configured. Without it every step maps and faults in its ~100 MB logits buffers afresh: a brown-6l training
     * step took 3× as long (246 vs 736 tokens/s measured on 2 cores).
     */
    public static void keepCpuArenaUnlessConfigured() { processArena = true; }

    /** Off: 14 % lower peak and after-burst memory in docs/DEPLOY.md's measurement, and no memory held per session. */
    static final boolean DEFAULT_CPU_ARENA = false;

    /**
     * A session over a compiled model with the options every Loupe graph runs under: all graph optimisations, and
     * the shared thread pool when the environment has one (else {@code threads} of its own), and the CPU arena
     * setting ({@link #cpuArena()}).
     */
    public static OrtSession session(byte[] model, int threads) throws OrtException {
        OrtEnvironment e = env(threads);
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
            so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            if (globalThreads()) so.disablePerSessionThreads();
            else so.setIntraOpNumThreads(threads);
            boolean arena = cpuArena();
            so.setCPUArenaAllocator(arena);
            so.setMemoryPatternOptimization(arena);
            return e.createSession(model, so);
        }
    }

    /** A float tensor over a new direct buffer holding a copy of {@code data}; the caller closes it. */
    public static OnnxTensor directTensor(OrtEnvironment env, float[] data, int[] shape) throws OrtException {
        FloatBuffer b = ByteBuffer.allocateDirect(data.length * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
        b.put(data).rewind();
        return OnnxTensor.createTensor(env, b, shape(shape));
    }

    /** ONNX Runtime's form of a shape. */
    public static long[] shape(int[] dims) {
        long[] l = new long[dims.length];
        for (int i = 0; i < l.length; i++) l[i] = dims[i];
        return l;
    }

    /** Closes sessions that are done with, ignoring a failure to close one: they are being dropped anyway. */
    public static void closeAll(Collection<OrtSession> sessions) {
        for (OrtSession s : sessions) {
            try {
                s.close();
            } catch (OrtException ignored) { /* dropped anyway */ }
        }
    }
}
