package dev.loupe.ui;

import com.vaadin.flow.component.grid.Grid;
import com.vaadin.flow.component.grid.GridVariant;
import com.vaadin.flow.component.html.Div;
import com.vaadin.flow.component.html.H2;
import com.vaadin.flow.component.html.Paragraph;
import com.vaadin.flow.component.markdown.Markdown;
import com.vaadin.flow.component.html.Span;
import com.vaadin.flow.component.orderedlayout.VerticalLayout;
import com.vaadin.flow.data.renderer.ComponentRenderer;
import com.vaadin.flow.router.PageTitle;
import com.vaadin.flow.router.Route;
import dev.loupe.model.GptConfig;
import dev.loupe.service.Explorer;
import dev.loupe.service.ModelCatalog;

/** The landing page: every model Loupe found, with its shape and card. */
@Route(value = "", layout = MainLayout.class)
@PageTitle("Loupe — models")
public class HomeView extends VerticalLayout {

    public HomeView(ModelCatalog catalog, Explorer explorer) {
        String defaultModel = explorer.defaultModel().orElse(null);
        add(new H2("Models"));
        add(new Paragraph("The models this Loupe serves; open one to explore it, or a row for its model card. Prompts "
                + "of GPT-2-vocabulary models are run with <|endoftext|> prepended as the first token, as TransformerLens does."));

        Grid<ModelCatalog.Entry> grid = new Grid<>();
        grid.setId("models");
        grid.addThemeVariants(GridVariant.LUMO_ROW_STRIPES, GridVariant.LUMO_WRAP_CELL_CONTENT);
        grid.addColumn(ModelCatalog.Entry::name).setHeader("Model").setAutoWidth(true).setFlexGrow(0);
        grid.addColumn(new ComponentRenderer<>(e -> {
            Span d = new Span(e.available() ? e.folder().description() : "");
            d.getStyle().set("white-space", "normal").set("font-size", "var(--lumo-font-size-s)");
            return d;
        })).setHeader("Description").setFlexGrow(3);
        grid.addColumn(e -> e.config().map(c -> formatCount(c.parameterCount())).orElse("")).setHeader("Size");
        grid.addColumn(e -> e.config().map(GptConfig::nLayers).map(String::valueOf).orElse("")).setHeader("Layers");
        grid.addColumn(e -> e.config().map(GptConfig::nHeads).map(String::valueOf).orElse("")).setHeader("Heads");
        grid.addColumn(e -> e.config().map(GptConfig::dModel).map(String::valueOf).orElse("")).setHeader("d_model");
        grid.addColumn(e -> e.config().map(GptConfig::nCtx).map(String::valueOf).orElse("")).setHeader("Context");
        grid.addColumn(e -> e.config().map(GptConfig::dVocab).map(String::valueOf).orElse("")).setHeader("Vocabulary");
        grid.addColumn(new ComponentRenderer<>(e -> status(e, e.name().equals(defaultModel)))).setHeader("Status").setAutoWidth(true);
        grid.addColumn(new ComponentRenderer<>(e -> e.available()
                ? new com.vaadin.flow.component.html.Anchor("/model/" + e.name(), "Explore")
                : new Span())).setHeader("").setAutoWidth(true);
        grid.setItemDetailsRenderer(new ComponentRenderer<>(HomeView::card));
        grid.setItems(catalog.entries());
        grid.setAllRowsVisible(true);
        add(grid);
        if (catalog.entries().isEmpty()) {
            add(new Paragraph("No models yet: create one with ./loupe import <file.safetensors> --name NAME."));
        }
        setWidthFull();
    }

    private static Span status(ModelCatalog.Entry e, boolean isDefault) {
        Span s;
        if (!e.available()) {
            s = new Span("unavailable: " + e.problem());
            s.getElement().getThemeList().add("badge error");
        } else if (e.folder().placeholder()) {
            s = new Span("placeholder");
            s.getElement().getThemeList().add("badge contrast");
        } else {
            s = new Span(isDefault ? "ready · default" : "ready");
            s.getElement().getThemeList().add("badge success");
        }
        return s;
    }

    private static Div card(ModelCatalog.Entry e) {
        Div d = new Div();
        if (!e.available()) {
            d.add(new Paragraph(e.problem()));
        } else {
            d.add(new Markdown(e.folder().card().isBlank() ? "*(no model card)*" : e.folder().card()));
        }
        return d;
    }

    static String formatCount(long n) {
        if (n >= 1_000_000_000) return String.format("%.2fB", n / 1e9);
        if (n >= 1_000_000) return String.format("%.1fM", n / 1e6);
        if (n >= 1_000) return String.format("%.1fK", n / 1e3);
        return Long.toString(n);
    }
}
