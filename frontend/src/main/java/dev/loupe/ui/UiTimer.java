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

    private UiTimer() {}

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
