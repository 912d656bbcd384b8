package dev.loupe.ui;

import com.vaadin.flow.server.VaadinSession;
import dev.loupe.service.Explorer;

/** Who the browser of the current session is, for the scheduler's per-client limits and "my jobs" (as the REST API: its address). */
public final class UiClient {
    private UiClient() {}

    public static String current() {
        VaadinSession s = VaadinSession.getCurrent();
        String address = s == null || s.getBrowser() == null ? null : s.getBrowser().getAddress();
        return address == null ? Explorer.LOCAL_CLIENT : address;
    }
}
