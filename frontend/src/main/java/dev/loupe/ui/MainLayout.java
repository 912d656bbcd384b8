package dev.loupe.ui;

import com.vaadin.flow.component.applayout.AppLayout;
import com.vaadin.flow.component.html.Anchor;
import com.vaadin.flow.component.html.H1;
import com.vaadin.flow.component.html.Span;
import com.vaadin.flow.component.orderedlayout.FlexComponent;
import com.vaadin.flow.component.orderedlayout.HorizontalLayout;

/** The frame around every page: the name and links to the API. */
public class MainLayout extends AppLayout {

    public MainLayout() {
        H1 title = new H1(new Anchor("/", "Loupe"));
        title.getStyle().set("font-size", "var(--lumo-font-size-xl)").set("margin", "0");
        Span tagline = new Span("a workbench for looking inside GPT-2-family models");
        tagline.getStyle().set("color", "var(--lumo-secondary-text-color)");
        Anchor api = new Anchor("/q/swagger-ui", "API");
        api.setRouterIgnore(true);
        HorizontalLayout bar = new HorizontalLayout(title, tagline, api);
        bar.setDefaultVerticalComponentAlignment(FlexComponent.Alignment.BASELINE);
        bar.expand(tagline);
        bar.setWidthFull();
        bar.getStyle().set("padding", "0 var(--lumo-space-m)");
        addToNavbar(bar);
    }
}
