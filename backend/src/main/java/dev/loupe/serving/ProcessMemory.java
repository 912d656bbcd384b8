package dev.loupe.serving;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The process's resident memory as the kernel counts it: heap, ONNX Runtime's native buffers and everything else. */
public final class ProcessMemory {
    private ProcessMemory() {}

    /** Resident bytes of process {@code pid} ("self" for this one) from /proc, or -1 where there is no /proc. */
    public static long residentBytes(String pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", pid, "status"))) {
                if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
            }
        } catch (IOException | NumberFormatException | SecurityException e) {
            return -1;
        }
        return -1;
    }

    public static long residentBytes() { return residentBytes("self"); }
}
