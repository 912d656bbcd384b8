package dev.loupe.ui;

import com.vaadin.flow.component.applayout.AppLayout;
import com.vaadin.flow.component.html.Anchor;
import com.vaadin.flow.component.html.H1;
import com.vaadin.flow.component.html.Span;
import com.vaadin.flow.component.orderedlayout.FlexComponent;
import com.vaadin.flow.component.orderedlayout.HorizontalLayout;
import com.vaadin.flow.router.AfterNavigationEvent;
import com.vaadin.flow.router.AfterNavigationObserver;

import java.util.List;

/**
 * The frame around every page: the name and links to the API. A page opened with {@code ?embed=true} (an iframe in
 * a blog post or a slide) gets no frame: without slotted content the app layout hides its navigation bar and the
 * offset it reserves for it.
 */
public class MainLayout extends AppLayout implements AfterNavigationObserver {
    private final HorizontalLayout bar;

    public MainLayout() {
        H1 title = new H1(new Anchor("/", "Loupe"));
        title.getStyle().set("font-size", "var(--lumo-font-size-xl)").set("margin", "0");
        Span tagline = new Span("a workbench for looking inside GPT-2-family models");
        tagline.getStyle().set("color", "var(--lumo-secondary-text-color)");
        Anchor api = new Anchor("/q/swagger-ui", "API");
        api.setRouterIgnore(true);
        bar = new HorizontalLayout(title, tagline, api);
        bar.setDefaultVerticalComponentAlignment(FlexComponent.Alignment.BASELINE);
        bar.expand(tagline);
        bar.setWidthFull();
        bar.getStyle().set("padding", "0 var(--lumo-space-m)");
        addToNavbar(bar);
    }

    /** Whether a location asks for the embed mode. */
    public static boolean embed(com.vaadin.flow.router.Location location) {
        return location.getQueryParameters().getParameters().getOrDefault("embed", List.of()).contains("true");
    }

    @Override
    public void afterNavigation(AfterNavigationEvent event) {
        boolean embed = embed(event.getLocation());
        getElement().setAttribute("embed", embed);
        if (embed) remove(bar);
        else if (bar.getParent().isEmpty()) addToNavbar(bar);
    }
}
