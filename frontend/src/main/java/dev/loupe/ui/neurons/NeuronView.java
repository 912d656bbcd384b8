package dev.loupe.ui.neurons;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.vaadin.flow.component.Component;
import com.vaadin.flow.component.Html;
import com.vaadin.flow.component.button.Button;
import com.vaadin.flow.component.button.ButtonVariant;
import com.vaadin.flow.component.html.Anchor;
import com.vaadin.flow.component.html.Div;
import com.vaadin.flow.component.html.H2;
import com.vaadin.flow.component.html.H3;
import com.vaadin.flow.component.html.Paragraph;
import com.vaadin.flow.component.html.Span;
import com.vaadin.flow.component.orderedlayout.FlexComponent;
import com.vaadin.flow.component.orderedlayout.HorizontalLayout;
import com.vaadin.flow.component.orderedlayout.VerticalLayout;
import com.vaadin.flow.component.textfield.TextArea;
import com.vaadin.flow.router.BeforeEnterEvent;
import com.vaadin.flow.router.BeforeEnterObserver;
import com.vaadin.flow.router.HasDynamicTitle;
import com.vaadin.flow.router.Route;
import dev.loupe.api.ApiException;
import dev.loupe.service.JobService;
import dev.loupe.service.NeuronService;
import dev.loupe.ui.MainLayout;
import dev.loupe.ui.UiClient;
import dev.loupe.ui.explorer.UrlState;
import dev.loupe.ui.jobs.JobProgressBar;
import org.jsoup.nodes.Entities;

import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A neuron's page (Neuroscope/Neuronpedia style): label with its held-out score and evidence, top examples with every
 * token coloured by activation (hover: the value, click: the whole window), bands, histogram, logit effects, POS
 * profile, statistics, and "test your own text". {@code ?embed=true} drops the app's chrome for an iframe.
 */
@Route(value = "model/:model/neurons/:layer/:index", layout = MainLayout.class)
public class NeuronView extends VerticalLayout implements BeforeEnterObserver, HasDynamicTitle {
    private final NeuronService neurons;
    private final JobService jobs;
    private final UrlState state = new UrlState();
    private String model;
    private int layer, index;
    private JsonNode page;
    private Div histogramBox;

    public NeuronView(NeuronService neurons, JobService jobs) {
        this.neurons = neurons;
        this.jobs = jobs;
        setWidthFull();
        setMaxWidth("1200px");
    }

    @Override
    public String getPageTitle() { return "Loupe — neuron " + model + "/" + layer + "/" + index; }

    @Override
    public void beforeEnter(BeforeEnterEvent event) {
        removeAll();
        state.read(event.getLocation());
        model = event.getRouteParameters().get("model").orElse("");
        boolean embed = "true".equals(state.get("embed")); // MainLayout drops the app's frame
        try {
            layer = Integer.parseInt(event.getRouteParameters().get("layer").orElse(""));
            index = Integer.parseInt(event.getRouteParameters().get("index").orElse(""));
        } catch (NumberFormatException e) {
            error("layer and neuron must be whole numbers, e.g. /model/" + model + "/neurons/0/5");
            return;
        }
        try {
            if (!neurons.indexed(model)) {
                add(NeuronBrowserView.noIndex(neurons, jobs, model));
                return;
            }
            page = neurons.neuron(model, layer, index);
        } catch (ApiException | IllegalArgumentException e) {
            error(e.getMessage());
            return;
        }
        render(embed);
    }

    private void error(String message) {
        Paragraph p = new Paragraph(message);
        p.setId("error");
        p.getStyle().set("color", "var(--lumo-error-text-color)");
        add(p);
    }

    private String link(int l, int n) { return NeuronLinks.page(model, l, n); }

    private void render(boolean embed) {
        double max = page.get("max").asDouble();
        H2 title = new H2("Neuron " + model + "/" + layer + "/" + index);
        title.getStyle().set("margin", "0");
        HorizontalLayout top = new HorizontalLayout(title);
        top.setDefaultVerticalComponentAlignment(FlexComponent.Alignment.BASELINE);
        top.setWidthFull();
        if (!embed) {
            JsonNode nav = page.get("nav");
            int layers = nav.get("layers").asInt(), dMlp = nav.get("dMlp").asInt();
            Anchor prev = new Anchor("/model/" + model + "/neurons/" + nav.get("prev").asText(), "← prev");
            prev.setId("prev");
            Anchor next = new Anchor("/model/" + model + "/neurons/" + nav.get("next").asText(), "next →");
            next.setId("next");
            int g = ThreadLocalRandom.current().nextInt(layers * dMlp);
            Anchor random = new Anchor(link(g / dMlp, g % dMlp), "random");
            random.setId("random");
            Anchor browser = new Anchor(NeuronLinks.layer(model, layer), "all neurons of layer " + layer);
            browser.setId("browser-link");
            top.add(prev, next, random, browser, state);
            top.expand(title);
        } else {
            // a reader of the post or slide can open the neuron in Loupe itself
            Anchor open = new Anchor(link(layer, index), "open in Loupe ↗");
            open.setId("open-in-loupe");
            open.setTarget("_blank");
            open.setRouterIgnore(true);
            top.add(open);
            top.expand(title);
        }
        add(top);

        JsonNode label = page.get("label");
        Div lab = new Div();
        lab.setId("label");
        Span text = new Span(label.get("text").asText());
        text.getStyle().set("font-weight", "600").set("font-size", "var(--lumo-font-size-l)");
        Span score = new Span(label.get("score").isNull() ? "  no score (no rule)"
                : String.format(Locale.ROOT, "  score r = %.3f", label.get("score").asDouble()));
        score.setId("label-score");
        score.getElement().setAttribute("title", label.get("scoreMeaning").asText());
        lab.add(text, score);
        add(lab);
        add(small(String.format(Locale.ROOT, "hook blocks.%d.mlp.hook_post · max %.3f · density %.2f %% · mean %.3f · variance %.3f · skew %.2f · kurtosis %.2f · "
                        + "‖w_in‖ %.2f · ‖w_out‖ %.2f · cos %.3f · indexed on %s (%,d tokens, BOS %s)", layer, max, 100 * page.get("density").asDouble(),
                page.get("mean").asDouble(), page.get("variance").asDouble(), page.get("skew").asDouble(), page.get("kurtosis").asDouble(),
                page.get("weights").get("wIn").asDouble(), page.get("weights").get("wOut").asDouble(), page.get("weights").get("cos").asDouble(),
                page.get("source").get("corpus").asText(), page.get("source").get("tokens").asLong(),
                page.get("source").get("bos").asBoolean() ? "prepended and left out of the statistics" : "not used"), "stats"));

        // test your own text
        TextArea input = new TextArea("Test your own text");
        input.setId("test-text");
        input.setWidthFull();
        input.setMaxHeight("6em");
        Div testOut = new Div();
        testOut.setId("test-result");
        Button run = new Button("Run", e -> test(input.getValue(), testOut, max));
        run.setId("test-run");
        run.addThemeVariants(ButtonVariant.LUMO_PRIMARY);
        HorizontalLayout testRow = new HorizontalLayout(input, run);
        testRow.setWidthFull();
        testRow.setDefaultVerticalComponentAlignment(FlexComponent.Alignment.END);
        add(testRow, testOut);

        HorizontalLayout charts = new HorizontalLayout();
        charts.getStyle().set("flex-wrap", "wrap");
        histogramBox = new Div();
        histogramBox.setId("histogram");
        drawHistogram(null);
        Div logitHist = new Div(new H3("Logit effects W_out · W_U"), new Html("<div>" + TokenStrip.histogram(page.get("logits").get("histogram").get("counts"),
                page.get("logits").get("histogram").get("min").asDouble(), page.get("logits").get("histogram").get("max").asDouble(), null, 320, 70, "#777") + "</div>"));
        charts.add(histogramBox, logitHist, logits());
        add(charts);

        add(new H3("Top activations"));
        Div examples = new Div();
        examples.setId("examples");
        for (JsonNode e : page.get("examples")) examples.add(example(e, max));
        add(examples);

        add(new H3("Activation bands"));
        Div bands = new Div();
        bands.setId("bands");
        for (JsonNode b : page.get("bands")) {
            bands.add(small(String.format(Locale.ROOT, "[%.3f, %.3f): %,d positions", b.get("lo").asDouble(), b.get("hi").asDouble(), b.get("count").asLong()), "band"));
            for (JsonNode e : b.get("examples")) bands.add(example(e, max));
        }
        add(bands);

        HorizontalLayout tables = new HorizontalLayout();
        tables.getStyle().set("flex-wrap", "wrap");
        tables.add(list("Highest mean activation per token", "token-means", page.get("tokenMeans"), "token", "mean", true));
        if (!page.get("pos").isNull()) {
            tables.add(list("POS profile (mean per class)", "pos-classes", page.get("pos").get("classes"), "class", "mean", false));
            tables.add(list("Highest POS tags", "pos-tags", page.get("pos").get("tags"), "tag", "mean", false));
        }
        add(tables);
        JsonNode cong = page.get("congruence");
        add(small(String.format(Locale.ROOT, "Congruence: top token %s; its most congruent neuron in layer %d is %d%s. Vocabulary kurtosis %.2f, skew %.2f%s.",
                quote(cong.get("token").asText()), layer, cong.get("topTokenNeuron").asInt(), cong.get("mutual").asBoolean() ? " (mutually congruent)" : "",
                page.get("logits").get("vocabKurtosis").asDouble(), page.get("logits").get("vocabSkew").asDouble(),
                page.get("logits").get("class").asText().isEmpty() ? " (neither a prediction nor a suppression neuron: kurtosis ≤ 10)" : " — a " + page.get("logits").get("class").asText() + " neuron"), "congruence"));
    }

    private void drawHistogram(Double mark) {
        histogramBox.removeAll();
        JsonNode h = page.get("histogram");
        histogramBox.add(new H3("Activation histogram (log counts)"), new Html("<div>" + TokenStrip.histogram(h.get("counts"), h.get("min").asDouble(),
                h.get("max").asDouble(), mark, 320, 70, "#c0392b") + "</div>"));
        histogramBox.add(small(String.format(Locale.ROOT, "%.2f %% of positions above 0%s", 100 * page.get("density").asDouble(),
                mark == null ? "" : String.format(Locale.ROOT, "; dashed line: your text's maximum %.3f", mark)), "density"));
    }

    private Component logits() {
        StringBuilder sb = new StringBuilder("<div style=\"display:flex;gap:var(--lumo-space-m)\">");
        for (String side : new String[]{"top", "bottom"}) {
            sb.append("<div class=\"logits-").append(side).append("\">");
            for (JsonNode t : page.get("logits").get(side))
                sb.append(ROW_START).append(side.equals("top") ? "#a61b10" : "#1f4fa8").append("\">").append(Entities.escape(quote(t.get("token").asText())))
                        .append(String.format(Locale.ROOT, "  %+.3f", t.get("value").asDouble())).append("</div>");
            sb.append("</div>");
        }
        Div d = new Div(new H3("Promotes / suppresses"), TokenStrip.html(sb.append("</div>").toString()));
        d.setId("logits");
        return d;
    }

    private static final String ROW_START = "<div style=\"font-family:monospace;font-size:var(--lumo-font-size-s);white-space:pre;color:";

    /** One example as one element: its activation and its token strip; a click replaces the context with the whole window. */
    private Component example(JsonNode e, double max) {
        String act = String.format(Locale.ROOT, "<span style=\"font-family:monospace;color:var(--lumo-secondary-text-color);font-size:var(--lumo-font-size-xs)\">%.3f </span>",
                e.get("activation").asDouble());
        Div row = TokenStrip.html(act + TokenStrip.html(e.get("text"), e.get("acts"), e.get("contextStart").asInt(), e.get("position").asInt(), max));
        row.addClassName("example");
        row.getStyle().set("border-bottom", "1px solid var(--lumo-contrast-10pct)").set("padding", "2px 0").set("cursor", "pointer");
        row.getElement().setAttribute("title", "click: the whole window " + e.get("window").asInt());
        row.addClickListener(c -> {
            if (row.hasClassName("expanded")) return;
            try {
                ObjectNode w = neurons.window(UiClient.current(), model, layer, index, e.get("window").asInt());
                row.getElement().setProperty("innerHTML", act + TokenStrip.html(w.get("text"), w.get("acts"), 0, e.get("position").asInt(), max));
                row.addClassName("expanded");
            } catch (RuntimeException ex) {
                row.getElement().setProperty("innerHTML", row.getElement().getProperty("innerHTML", "")
                        + "<span class=\"error\" style=\"display:block;color:var(--lumo-error-text-color)\">" + Entities.escape(ex.getMessage()) + "</span>");
            }
        });
        return row;
    }

    private void test(String text, Div out, double max) {
        out.removeAll();
        try {
            ObjectNode r = neurons.test(UiClient.current(), model, layer, index, text);
            int first = r.get("firstCounted").asInt();
            JsonNode t = r.get("text"), a = r.get("acts");
            var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
            var tt = mapper.createArrayNode();
            var aa = mapper.createArrayNode();
            for (int i = first; i < t.size(); i++) { tt.add(t.get(i)); aa.add(a.get(i)); }
            out.add(TokenStrip.of(tt, aa, first, r.path("maxPosition").asInt(-1), max));
            if (r.has("max")) {
                out.add(small(String.format(Locale.ROOT, "maximum %.3f at %s (the neuron's corpus maximum is %.3f)", r.get("max").asDouble(),
                        quote(t.get(r.get("maxPosition").asInt()).asText()), max), "test-max"));
                drawHistogram(r.get("max").asDouble());
            }
        } catch (ApiException | IllegalArgumentException e) {
            out.add(small(e.getMessage(), "test-error"));
        }
    }

    static Component list(String title, String id, JsonNode rows, String key, String value, boolean quoteKey) {
        StringBuilder sb = new StringBuilder();
        for (JsonNode r : rows) {
            String k = r.get(key).asText();
            String extra = r.has("count") ? "  (" + r.get("count").asLong() + "×)" : "";
            sb.append(ROW_START).append("inherit\">").append(Entities.escape((quoteKey ? quote(k) : k) + "  "
                    + String.format(Locale.ROOT, "%.3f", r.get(value).asDouble()) + extra)).append("</div>");
        }
        Div d = new Div(new H3(title), TokenStrip.html(sb.toString()));
        d.setId(id);
        return d;
    }

    static String quote(String s) { return dev.loupe.neurons.NeuronPage.quote(s); }

    static Span small(String text, String cls) {
        Span s = new Span(text);
        s.addClassName(cls);
        s.getStyle().set("display", "block").set("color", "var(--lumo-secondary-text-color)").set("font-size", "var(--lumo-font-size-s)");
        return s;
    }
}
