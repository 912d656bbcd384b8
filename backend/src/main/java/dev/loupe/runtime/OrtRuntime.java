package dev.loupe.runtime;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;

/**
 * The process-wide ONNX Runtime environment with one intra-op thread pool shared by all sessions, so that many
 * compiled graphs do not each start their own threads.
 */
public final class OrtRuntime {
    private OrtRuntime() {}

    private static OrtEnvironment env;
    private static boolean globalThreads;

    /**
     * Creates the environment on a thread with a large stack: ONNX Runtime's start-up recurses deeply over the
     * process command line and overflows the JVM's default 1 MB main-thread stack when the class path is long.
     */
    public static synchronized OrtEnvironment env(int threads) {
        if (env == null) {
            Thread t = new Thread(null, () -> create(threads), "loupe-ort-init", 64L << 20);
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
}
