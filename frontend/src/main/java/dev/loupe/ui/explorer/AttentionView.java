package dev.loupe.ui.explorer;

import com.vaadin.flow.component.html.Div;
import com.vaadin.flow.component.html.H3;
import com.vaadin.flow.component.select.Select;
import com.vaadin.flow.component.textfield.TextArea;
import com.vaadin.flow.router.Route;
import dev.loupe.analysis.AttentionPatterns;
import dev.loupe.analysis.TokenInfo;
import dev.loupe.service.Explorer;
import dev.loupe.ui.MainLayout;
import dev.loupe.ui.charts.HeadGrid;
import dev.loupe.ui.charts.Heatmap;
import dev.loupe.ui.charts.TokenAttention;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Attention patterns: one head as a query × key heatmap with token labels, the tokens with where the hovered one
 * attends and what attends to it, and every head of the layer as a grid (click one to select it).
 */
@Route(value = "model/:model/attention", layout = MainLayout.class)
public class AttentionView extends ExplorerPage {
    /** Above this many tokens the pattern gets zoom sliders. */
    static final int ZOOM_FROM = 64;
    private TextArea prompt;
    private Select<Integer> layer, head;

    public AttentionView(Explorer explorer) {
        super(explorer);
    }

    @Override protected String route() { return "attention"; }
    @Override protected String title() { return "Attention"; }

    @Override
    protected void show() {
        prompt = startWithPrompt(this::run);
        var c = config();
        layer = new Select<>();
        layer.setLabel("Layer");
        layer.setId("layer");
        layer.setItems(IntStream.range(0, c.nLayers()).boxed().toList());
        layer.setValue(inRange(() -> state.getInt("layer"), c.nLayers(), 0));
        head = new Select<>();
        head.setLabel("Head");
        head.setId("head");
        head.setItems(IntStream.range(0, c.nHeads()).boxed().toList());
        head.setValue(inRange(() -> state.getInt("head"), c.nHeads(), 0));
        layer.addValueChangeListener(e -> { if (e.isFromClient()) run(); });
        head.addValueChangeListener(e -> { if (e.isFromClient()) run(); });
        // one row of controls: the pattern starts high enough to be seen in a 1000 px window
        prompt.setWidth(null);
        prompt.getStyle().set("flex", "1 1 30em");
        prompt.setMaxHeight("6em");
        body.add(row(prompt, layer, head, runButton(this::run)));
        // a bad layer or head in the URL: the form stays, the message says what is wrong
        showResults(results -> {
            int l = explorer.checkLayer(model, state.getInt("layer"));
            Integer hv = state.getInt("head");
            render(results, l, hv == null ? 0 : explorer.checkHead(model, hv));
        });
    }

    /** The URL's value when it is a valid index below n, else the fallback (the error is shown with the results). */
    private static Integer inRange(java.util.function.Supplier<Integer> value, int n, int fallback) {
        try {
            Integer v = value.get();
            return v == null || v < 0 || v >= n ? fallback : v;
        } catch (IllegalArgumentException e) {
            return fallback;
        }
    }

    private void run() {
        if (!validPrompt(prompt.getValue())) return;
        state.set("text", prompt.getValue(), "layer", layer.getValue(), "head", head.getValue());
        rerun();
    }

    private void render(Div out, int l, int h) {
        AttentionPatterns.Result r = ask(explorer.attentionQuery(model, state.get("text"), l, null)).result();
        List<String> labels = new ArrayList<>();
        for (int p = 0; p < r.tokens().size(); p++) labels.add(p + " " + r.tokens().get(p).token());
        List<String> tokens = r.tokens().stream().map(TokenInfo::token).toList();
        float[][] pattern = r.patterns().get(h);
        int t = tokens.size();

        H3 title = new H3("Head " + l + "." + h);
        title.getStyle().set("display", "inline-block").set("margin", "0.4em 1em 0.2em 0");
        com.vaadin.flow.component.html.Anchor weights = new com.vaadin.flow.component.html.Anchor(
                link(model, "weights", java.util.Map.of("layer", String.valueOf(l), "head", String.valueOf(h), "text", state.get("text"))),
                "Weights of head " + l + "." + h + " (QK, OV, composition)");
        weights.setId("head-weights");
        out.add(new Div(title, weights));
        double[][] lower = causal(pattern);

        Heatmap big = new Heatmap();
        big.setId("pattern");
        Heatmap.Spec spec = new Heatmap.Spec().xLabels(labels).yLabels(labels).axisNames("key (attended to)", "query (attending)")
                .values(lower).range(0, 1).legend().height(Math.min(900, Math.max(320, 150 + 20 * t)))
                .grid(130, 120).nameGaps(95, 115);
        // long prompts: a canvas (the chart decides), fewer decimals, and zoom on both axes
        if (t > ZOOM_FROM) spec.zoomX(0).zoomY(0).digits(4);
        big.show(spec);
        out.add(big);
        // the tokens below the pattern: hover one to see where it attends and what attends to it
        TokenAttention strip = new TokenAttention();
        strip.setId("token-attention");
        strip.show(tokens, lower);
        out.add(strip);

        out.add(new H3("All heads of layer " + l), label("Click a head to select it."));
        HeadGrid grid = new HeadGrid(t, false);
        grid.setId("head-grid");
        for (int k = 0; k < r.heads().size(); k++) grid.add(l, r.heads().get(k), "head " + l + "." + r.heads().get(k), r.patterns().get(k));
        grid.select(l, h).draw();
        grid.addHeadClickListener(e -> selectHead(e.head()));
        out.add(grid);
    }

    private void selectHead(int h) {
        state.set("head", h);
        rerun();
    }

    /**
     * The causal part of the pattern: row q holds keys 0..q only (the keys after the query are always 0), so a
     * full context sends half the numbers; the charts treat the missing entries as empty.
     */
    private static double[][] causal(float[][] p) {
        double[][] out = new double[p.length][];
        for (int q = 0; q < p.length; q++) {
            out[q] = new double[Math.min(q + 1, p[q].length)];
            for (int k = 0; k < out[q].length; k++) out[q][k] = p[q][k];
        }
        return out;
    }
}
