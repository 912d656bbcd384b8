package dev.loupe.runtime;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class NativeThreadsTest {

    /** The nice value of the calling thread as the kernel reports it (field 19 of /proc/thread-self/stat). */
    private static int niceOfThisThread() throws Exception {
        String stat = Files.readString(Path.of("/proc/thread-self/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Integer.parseInt(f[16]);
    }

    @Test
    void lowersThePriorityOfTheCallingThreadOnlyAndReleasesMemory() throws Exception {
        assumeTrue(Files.exists(Path.of("/proc/thread-self/stat")) && Runtime.version().feature() >= 22, "Linux and Java 22+ only");
        int before = niceOfThisThread();
        AtomicInteger inside = new AtomicInteger(Integer.MIN_VALUE), child = new AtomicInteger(Integer.MIN_VALUE);
        Thread t = new Thread(() -> {
            try {
                assertTrue(NativeThreads.lowerCurrentThreadPriority(3));
                inside.set(niceOfThisThread());
                Thread c = new Thread(() -> {
                    try {
                        child.set(niceOfThisThread());
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                c.start();
                c.join();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        t.start();
        t.join();
        assertEquals(Math.min(19, before + 3), inside.get());
        assertEquals(inside.get(), child.get(), "threads started by a lowered thread inherit its nice value");
        assertEquals(before, niceOfThisThread(), "other threads keep theirs");
        assertTrue(NativeThreads.releaseFreeNativeMemory());
    }
}
