package dev.loupe.ui;

import com.vaadin.flow.component.page.AppShellConfigurator;
import com.vaadin.flow.component.page.Push;
import com.vaadin.flow.server.PWA;
import com.vaadin.flow.theme.Theme;
import com.vaadin.flow.theme.lumo.Lumo;

/** Application-wide page settings. */
@Theme(themeClass = Lumo.class)
@Push
public class AppShell implements AppShellConfigurator {
}
