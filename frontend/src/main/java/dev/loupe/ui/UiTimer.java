package dev.loupe.ui;

import com.vaadin.flow.component.UI;
import com.vaadin.flow.server.Command;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/** Timed updates of a page from the server (delivered by push): one shared timer thread for every page. */
public final class UiTimer {
    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "loupe-ui-timer");
        t.setDaemon(true);
        return t;
    });

    /** Work a page starts and shows when done (e.g. the rest of a long lens): a few threads for every page. */
    private static final java.util.concurrent.ExecutorService WORK = Executors.newFixedThreadPool(2, r -> {
        Thread t = new Thread(r, "loupe-ui-work");
        t.setDaemon(true);
        return t;
    });

    private UiTimer() {}

    /**
     * Computes {@code work} off the page's request, then hands the value (or the exception) to {@code done} in the
     * UI's session, if the UI is still open.
     */
    public static <T> java.util.concurrent.Future<?> background(UI ui, java.util.function.Supplier<T> work,
                                                               java.util.function.BiConsumer<T, RuntimeException> done) {
        return WORK.submit(() -> {
            T value = null;
            RuntimeException error = null;
            try {
                value = work.get();
            } catch (RuntimeException e) {
                error = e;
            }
            T v = value;
            RuntimeException err = error;
            access(ui, () -> done.accept(v, err));
        });
    }

    /** Runs {@code command} in the UI's session after {@code delay}, if the UI is still open. */
    public static ScheduledFuture<?> later(UI ui, Duration delay, Command command) {
        return TIMER.schedule(() -> access(ui, command), delay.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Runs {@code command} in the UI's session every {@code period} until the returned future is cancelled. */
    public static ScheduledFuture<?> every(UI ui, Duration period, Command command) {
        return TIMER.scheduleWithFixedDelay(() -> access(ui, command), period.toMillis(), period.toMillis(), TimeUnit.MILLISECONDS);
    }

    private static void access(UI ui, Command command) {
        if (ui.isClosing() || !ui.isAttached()) return;
        try {
            ui.access(command);
        } catch (com.vaadin.flow.component.UIDetachedException e) {
            // the page was closed meanwhile
        }
    }
}
