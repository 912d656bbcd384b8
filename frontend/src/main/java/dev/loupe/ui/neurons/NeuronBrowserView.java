package dev.loupe.ui.neurons;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.vaadin.flow.component.Component;
import com.vaadin.flow.component.UI;
import com.vaadin.flow.component.button.Button;
import com.vaadin.flow.component.button.ButtonVariant;
import com.vaadin.flow.component.grid.Grid;
import com.vaadin.flow.component.grid.GridVariant;
import com.vaadin.flow.component.html.Anchor;
import com.vaadin.flow.component.html.Div;
import com.vaadin.flow.component.html.H2;
import com.vaadin.flow.component.html.Paragraph;
import com.vaadin.flow.component.html.Span;
import com.vaadin.flow.component.orderedlayout.FlexComponent;
import com.vaadin.flow.component.orderedlayout.HorizontalLayout;
import com.vaadin.flow.component.orderedlayout.VerticalLayout;
import com.vaadin.flow.component.select.Select;
import com.vaadin.flow.component.textfield.TextField;
import com.vaadin.flow.data.provider.ListDataProvider;
import com.vaadin.flow.router.BeforeEnterEvent;
import com.vaadin.flow.router.BeforeEnterObserver;
import com.vaadin.flow.router.HasDynamicTitle;
import com.vaadin.flow.router.Route;
import dev.loupe.api.ApiException;
import dev.loupe.jobs.JobInfo;
import dev.loupe.neurons.CorpusSources;
import dev.loupe.service.JobService;
import dev.loupe.service.NeuronIndexJob;
import dev.loupe.service.NeuronService;
import dev.loupe.ui.MainLayout;
import dev.loupe.ui.UiClient;
import dev.loupe.ui.explorer.UrlState;
import dev.loupe.ui.jobs.JobProgressBar;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The neuron browser: a layer's neurons in a sortable, filterable table, and search for neurons that fire on a token,
 * predict a token, or whose label contains a text. State (layer, search, query) lives in the URL.
 */
@Route(value = "model/:model/neurons", layout = MainLayout.class)
public class NeuronBrowserView extends VerticalLayout implements BeforeEnterObserver, HasDynamicTitle {
    private final NeuronService neurons;
    private final JobService jobs;
    private final UrlState state = new UrlState();
    private String model;

    /** One row of the table. */
    public record Row(int layer, int index, double max, double density, double kurtosis, double vocabKurtosis, double vocabSkew,
                      String cls, String label, Double score, Double value) {
        static Row of(JsonNode r) {
            return new Row(r.get("layer").asInt(), r.get("index").asInt(), r.get("max").asDouble(), r.get("density").asDouble(),
                    r.get("kurtosis").asDouble(), r.get("vocabKurtosis").asDouble(), r.get("vocabSkew").asDouble(), r.get("class").asText(),
                    r.get("label").asText(), r.get("score").isNull() ? null : r.get("score").asDouble(), r.has("value") ? r.get("value").asDouble() : null);
        }
    }

    public NeuronBrowserView(NeuronService neurons, JobService jobs) {
        this.neurons = neurons;
        this.jobs = jobs;
        setSizeFull();
    }

    @Override public String getPageTitle() { return "Loupe — neurons — " + model; }

    @Override
    public void beforeEnter(BeforeEnterEvent event) {
        removeAll();
        state.read(event.getLocation());
        model = event.getRouteParameters().get("model").orElse("");
        H2 title = new H2("Neurons · " + model);
        title.getStyle().set("margin", "0");
        try {
            if (!neurons.indexed(model)) {
                add(title, noIndex(neurons, jobs, model));
                return;
            }
            JsonNode status = neurons.status(model);
            int layers = status.get("layers").asInt();
            int layer = state.getInt("layer") == null ? 0 : state.getInt("layer");
            Select<Integer> layerSelect = new Select<>();
            layerSelect.setId("layer");
            layerSelect.setLabel("Layer");
            List<Integer> ls = new ArrayList<>();
            for (int l = 0; l < layers; l++) ls.add(l);
            layerSelect.setItems(ls);
            layerSelect.setValue(Math.max(0, Math.min(layers - 1, layer)));
            layerSelect.addValueChangeListener(e -> { // the filters stay as they are
                state.set("layer", String.valueOf(e.getValue()));
                UI.getCurrent().navigate("model/" + model + "/neurons", state.location().getQueryParameters());
            });
            Select<String> kind = new Select<>();
            kind.setId("search-kind");
            kind.setLabel("Search");
            kind.setItems("fires", "predicts", "label");
            kind.setItemLabelGenerator(k -> switch (k) { case "fires" -> "fires on token"; case "predicts" -> "predicts token"; default -> "label contains"; });
            kind.setValue(state.get("search", "fires"));
            TextField query = new TextField("Token or text");
            query.setId("search-query");
            query.setPlaceholder("\" the\" (a leading space matters), #id, or label text");
            query.setValue(state.get("q", ""));
            Button go = new Button("Search", e -> UI.getCurrent().navigate("model/" + model + "/neurons",
                    com.vaadin.flow.router.QueryParameters.simple(java.util.Map.of("layer", String.valueOf(layerSelect.getValue()),
                            "search", kind.getValue(), "q", query.getValue()))));
            go.setId("search-run");
            go.addThemeVariants(ButtonVariant.LUMO_PRIMARY);
            go.addClickShortcut(com.vaadin.flow.component.Key.ENTER).listenOn(query); // Enter in a filter field must not search (it would drop the filters)
            HorizontalLayout controls = new HorizontalLayout(layerSelect, kind, query, go, state);
            controls.setDefaultVerticalComponentAlignment(FlexComponent.Alignment.BASELINE);
            add(title, new Paragraph(String.format(Locale.ROOT, "Indexed on %s (%,d tokens). Labels are scored on held-out text "
                    + "(Pearson r of the rule with the activation): sort by score to find the labels to trust.", status.get("corpus").asText(), status.get("tokens").asLong())), controls);

            JsonNode rows;
            String q = state.get("q");
            boolean searching = q != null && !q.isEmpty();
            if (searching) {
                JsonNode r = neurons.search(model, state.get("search", "fires"), q);
                rows = r.get("neurons");
                add(NeuronView.small(String.format(Locale.ROOT, "%d neurons match; the best %d are listed (all layers)", r.get("matches").asInt(), rows.size()), "search-summary"));
            } else {
                rows = neurons.layer(model, layerSelect.getValue()).get("neurons");
            }
            List<Row> list = new ArrayList<>();
            for (JsonNode r : rows) list.add(Row.of(r));
            add(filters(table(list, searching), list.size()));
        } catch (ApiException | IllegalArgumentException e) {
            Paragraph p = new Paragraph(e.getMessage());
            p.setId("error");
            p.getStyle().set("color", "var(--lumo-error-text-color)");
            add(title, p);
        }
    }

    private Grid<Row> table(List<Row> rows, boolean withValue) {
        Grid<Row> g = new Grid<>(Row.class, false);
        g.setId("neuron-table");
        g.addThemeVariants(GridVariant.LUMO_COMPACT, GridVariant.LUMO_ROW_STRIPES);
        g.addComponentColumn(r -> new Anchor(NeuronLinks.page(model, r.layer(), r.index()), r.layer() + "/" + r.index()))
                .setHeader("neuron").setComparator((a, b) -> a.layer() != b.layer() ? a.layer() - b.layer() : a.index() - b.index()).setWidth("90px").setFlexGrow(0);
        if (withValue) g.addColumn(r -> fmt(r.value())).setHeader("value").setComparator(r -> r.value() == null ? 0 : r.value()).setWidth("90px").setFlexGrow(0);
        g.addColumn(r -> fmt(r.max())).setHeader("max").setComparator(Row::max).setWidth("80px").setFlexGrow(0);
        g.addColumn(r -> String.format(Locale.ROOT, "%.1f%%", 100 * r.density())).setHeader("density").setComparator(Row::density).setWidth("90px").setFlexGrow(0);
        g.addColumn(r -> fmt(r.kurtosis())).setHeader("kurtosis").setComparator(Row::kurtosis).setWidth("90px").setFlexGrow(0);
        g.addColumn(r -> fmt(r.vocabKurtosis())).setHeader("vocab kurt.").setComparator(Row::vocabKurtosis).setWidth("100px").setFlexGrow(0);
        g.addColumn(r -> fmt(r.vocabSkew())).setHeader("vocab skew").setComparator(Row::vocabSkew).setWidth("100px").setFlexGrow(0);
        g.addColumn(Row::cls).setHeader("class").setComparator(Row::cls).setWidth("100px").setFlexGrow(0);
        g.addColumn(r -> r.score() == null ? "–" : String.format(Locale.ROOT, "%.3f", r.score())).setHeader("score")
                .setComparator(r -> r.score() == null ? -2 : r.score()).setWidth("80px").setFlexGrow(0).setKey("score");
        g.addColumn(Row::label).setHeader("label").setFlexGrow(1);
        g.setItems(new ListDataProvider<>(new ArrayList<>(rows)));
        g.setHeight("70vh");
        return g;
    }

    /** The filters above the table (ranges of every statistic, class, label, minimum score) and how many rows pass. */
    private Component filters(Grid<Row> grid, int total) {
        @SuppressWarnings("unchecked")
        ListDataProvider<Row> data = (ListDataProvider<Row>) grid.getDataProvider();
        Span count = new Span();
        count.setId("filter-count");
        count.getStyle().set("color", "var(--lumo-secondary-text-color)").set("font-size", "var(--lumo-font-size-s)");
        NeuronFilters[] f = new NeuronFilters[1];
        Runnable apply = () -> {
            data.setFilter(f[0].predicate()::test);
            count.setText(String.format(Locale.ROOT, "%,d of %,d neurons shown", data.size(new com.vaadin.flow.data.provider.Query<>()), total));
        };
        f[0] = new NeuronFilters(state, apply);
        apply.run();
        VerticalLayout v = new VerticalLayout(f[0], count, grid);
        v.setPadding(false);
        v.setWidthFull();
        return v;
    }

    private static String fmt(Double v) { return v == null ? "–" : String.format(Locale.ROOT, Math.abs(v) >= 100 ? "%.1f" : "%.3f", v); }

    /**
     * What a model without an index shows: why, the command, and a button that builds it as a job (per batch through the
     * compute scheduler, with progress and Cancel). A job of this user already building the model's index is shown
     * instead of a second one; a cancelled build continues from its checkpoint when started again.
     */
    static Component noIndex(NeuronService neurons, JobService jobs, String model) {
        Div d = new Div();
        d.setId("no-index");
        JsonNode status = neurons.status(model);
        d.add(new Paragraph(status.get("problem").asText() + ". Build it here (a job; progress below), "
                + "or on the command line: ./loupe neurons index " + model + " [--corpus brown-heldout|brown|kjv|fortunes]"));
        Select<String> corpus = new Select<>();
        corpus.setId("index-corpus");
        corpus.setLabel("Corpus");
        corpus.setItems(CorpusSources.NAMED);
        corpus.setValue(CorpusSources.NAMED.get(0));
        Button build = new Button("Build the neuron index");
        build.setId("build-index");
        build.addThemeVariants(ButtonVariant.LUMO_PRIMARY);
        Div progress = new Div();
        progress.setWidthFull();
        java.util.function.Consumer<String> follow = id -> {
            build.setEnabled(false);
            progress.removeAll();
            progress.add(new JobProgressBar(jobs, id).onFinished(job -> {
                if (job.state() == JobInfo.State.DONE) UI.getCurrent().getPage().reload();
                else {
                    build.setEnabled(true);
                    build.setText(job.state() == JobInfo.State.CANCELLED ? "Continue building (from the checkpoint)" : "Build the neuron index");
                }
            }));
        };
        build.addClickListener(e -> {
            try {
                var params = new ObjectMapper().createObjectNode().put("model", model).put("corpus", corpus.getValue());
                follow.accept(jobs.submit(NeuronIndexJob.NAME, UiClient.current(), params));
            } catch (RuntimeException ex) {
                progress.removeAll();
                progress.add(new Paragraph(ex.getMessage()));
            }
        });
        HorizontalLayout row = new HorizontalLayout(corpus, build);
        row.setDefaultVerticalComponentAlignment(FlexComponent.Alignment.BASELINE);
        d.add(row, progress);
        jobs.list(UiClient.current()).stream()
                .filter(j -> NeuronIndexJob.NAME.equals(j.kind()) && !j.finished() && model.equals(j.params().path("model").asText()))
                .findFirst().ifPresent(j -> follow.accept(j.id()));
        return d;
    }
}
