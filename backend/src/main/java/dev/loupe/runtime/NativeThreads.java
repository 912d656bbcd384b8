package dev.loupe.runtime;

import java.lang.invoke.MethodHandle;
import java.lang.reflect.Array;
import java.lang.reflect.Method;
import java.util.Optional;

/**
 * The C-library calls the server makes on Linux (glibc): lowering the CPU priority of the current thread, so model
 * compute yields the CPU to the threads that answer cached requests, and giving freed native memory back to the OS
 * after a burst. They go through the FFM API ({@code java.lang.foreign}, final since Java 22), looked up reflectively
 * because Loupe compiles for Java 21; on Java 21, other systems or without the symbols they do nothing.
 */
public final class NativeThreads {
    private NativeThreads() {}

    private static final int PRIO_PROCESS = 0;
    private static final MethodHandle GETTID, GETPRIORITY, SETPRIORITY, MALLOC_TRIM;

    static {
        MethodHandle gettid = null, get = null, set = null, trim = null;
        if (System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux") && Runtime.version().feature() >= 22) {
            try {
                Ffm ffm = new Ffm();
                gettid = ffm.downcall("gettid", int.class);
                get = ffm.downcall("getpriority", int.class, int.class, int.class);
                set = ffm.downcall("setpriority", int.class, int.class, int.class, int.class);
                trim = ffm.downcall("malloc_trim", int.class, long.class);
            } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
                // no FFM or no native access: the calls below do nothing
            }
        }
        GETTID = gettid;
        GETPRIORITY = get;
        SETPRIORITY = set;
        MALLOC_TRIM = trim;
    }

    /**
     * Raises the nice value of the calling thread by {@code by} (Linux gives each thread its own nice value, and
     * threads it starts inherit it). Returns whether it worked.
     */
    public static boolean lowerCurrentThreadPriority(int by) {
        if (by <= 0 || GETTID == null || GETPRIORITY == null || SETPRIORITY == null) return false;
        try {
            int tid = (int) GETTID.invoke();
            int now = (int) GETPRIORITY.invoke(PRIO_PROCESS, tid);
            return (int) SETPRIORITY.invoke(PRIO_PROCESS, tid, Math.min(19, now + by)) == 0;
        } catch (Throwable t) {
            return false;
        }
    }

    /** glibc's {@code malloc_trim(0)}: returns the free memory of every malloc arena to the OS. False where unavailable. */
    public static boolean releaseFreeNativeMemory() {
        if (MALLOC_TRIM == null) return false;
        try {
            MALLOC_TRIM.invoke(0L);
            return true;
        } catch (Throwable t) {
            return false;
        }
    }

    /** The few FFM calls needed, by reflection: the C linker's downcall handle of a C-library function. */
    private static final class Ffm {
        final Object linker, lookup;
        final Class<?> linkerClass, lookupClass, segment, descriptor, layout, option;
        final Object intLayout, longLayout;

        Ffm() throws ReflectiveOperationException {
            linkerClass = Class.forName("java.lang.foreign.Linker");
            lookupClass = Class.forName("java.lang.foreign.SymbolLookup");
            segment = Class.forName("java.lang.foreign.MemorySegment");
            descriptor = Class.forName("java.lang.foreign.FunctionDescriptor");
            layout = Class.forName("java.lang.foreign.MemoryLayout");
            option = Class.forName("java.lang.foreign.Linker$Option");
            Class<?> values = Class.forName("java.lang.foreign.ValueLayout");
            linker = linkerClass.getMethod("nativeLinker").invoke(null);
            lookup = linkerClass.getMethod("defaultLookup").invoke(linker);
            intLayout = values.getField("JAVA_INT").get(null);
            longLayout = values.getField("JAVA_LONG").get(null);
        }

        /** A handle on {@code name} returning {@code result} and taking {@code args} (int or long each). */
        MethodHandle downcall(String name, Class<?> result, Class<?>... args) throws ReflectiveOperationException {
            Optional<?> symbol = (Optional<?>) lookupClass.getMethod("find", String.class).invoke(lookup, name);
            if (symbol.isEmpty()) return null;
            Object[] argLayouts = (Object[]) Array.newInstance(layout, args.length);
            for (int i = 0; i < args.length; i++) argLayouts[i] = args[i] == long.class ? longLayout : intLayout;
            Object d = descriptor.getMethod("of", layout, argLayouts.getClass())
                    .invoke(null, result == long.class ? longLayout : intLayout, argLayouts);
            Method downcall = linkerClass.getMethod("downcallHandle", segment, descriptor, option.arrayType());
            return (MethodHandle) downcall.invoke(linker, symbol.get(), d, Array.newInstance(option, 0));
        }
    }
}
