package dev.loupe.runtime;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;

/**
 * The process-wide ONNX Runtime environment with one intra-op thread pool shared by all sessions, so that many
 * compiled graphs do not each start their own threads.
 */
final class OrtRuntime {
    private OrtRuntime() {}

    private static OrtEnvironment env;
    private static boolean globalThreads;

    static synchronized OrtEnvironment env(int threads) {
        if (env == null) {
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
        return env;
    }

    static synchronized boolean globalThreads() { return globalThreads; }
}
