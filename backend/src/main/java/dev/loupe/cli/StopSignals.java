package dev.loupe.cli;

import sun.misc.Signal;
import sun.misc.SignalHandler;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Turns the first Ctrl-C (SIGINT) or SIGTERM into a stop request for long work, instead of the JVM's shutdown; a second
 * signal gets the default behaviour back, so an impatient user can still end the process at once.
 */
final class StopSignals {
    private static final String[] NAMES = {"INT", "TERM"};

    private final Map<Signal, SignalHandler> previous = new LinkedHashMap<>();
    private volatile int received;

    private StopSignals() {
    }

    /** Installs the handlers; {@code onStop} runs once, on the signal thread, and must only ask the work to stop. */
    static StopSignals install(Runnable onStop) {
        StopSignals signals = new StopSignals();
        for (String name : NAMES) {
            Signal signal = new Signal(name);
            signals.previous.put(signal, Signal.handle(signal, s -> {
                if (signals.received != 0) {
                    signals.restore();
                    Signal.raise(s); // second signal: the default action
                    return;
                }
                signals.received = s.getNumber();
                onStop.run();
            }));
        }
        return signals;
    }

    /** The number of the signal that asked to stop, 0 if none came. */
    int received() {
        return received;
    }

    /** Puts the previous handlers back. */
    void restore() {
        previous.forEach(Signal::handle);
    }
}
