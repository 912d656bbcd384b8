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
        int l = explorer.checkLayer(model, state.getInt("layer"));
        Integer hv = state.getInt("head");
        int h = hv == null ? 0 : hv;
        if (h < 0 || h >= c.nHeads()) explorer.checkHead(model, h);
        layer = new Select<>();
        layer.setLabel("Layer");
        layer.setId("layer");
        layer.setItems(IntStream.range(0, c.nLayers()).boxed().toList());
        layer.setValue(l);
        head = new Select<>();
        head.setLabel("Head");
        head.setId("head");
        head.setItems(IntStream.range(0, c.nHeads()).boxed().toList());
        head.setValue(h);
        layer.addValueChangeListener(e -> { if (e.isFromClient()) run(); });
        head.addValueChangeListener(e -> { if (e.isFromClient()) run(); });
        body.add(row(prompt, runButton(this::run)), row(layer, head));
        showResults(results -> render(results, l, h));
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

        out.add(new H3("Head " + l + "." + h));
        TokenAttention strip = new TokenAttention();
        strip.setId("token-attention");
        strip.show(tokens, toDouble(pattern));
        out.add(strip);

        Heatmap big = new Heatmap();
        big.setId("pattern");
        big.show(new Heatmap.Spec().xLabels(labels).yLabels(labels).axisNames("key (attended to)", "query (attending)")
                .values(masked(pattern)).range(0, 1).legend().height(Math.min(900, Math.max(320, 150 + 20 * t)))
                .grid(130, 120).nameGaps(95, 115));
        out.add(big);

        out.add(new H3("All heads of layer " + l), label("Click a head to select it."));
        Div grid = new Div();
        grid.setId("head-grid");
        grid.getStyle().set("display", "grid").set("grid-template-columns", "repeat(auto-fill, minmax(220px, 1fr))").set("gap", "8px");
        for (int k = 0; k < r.heads().size(); k++) {
            int hk = r.heads().get(k);
            Heatmap small = new Heatmap();
            small.addClassName("head-map");
            small.getElement().setAttribute("data-head", String.valueOf(hk));
            small.show(new Heatmap.Spec().title("head " + l + "." + hk).xLabels(labels).yLabels(labels)
                    .axisNames("key", "query").values(masked(r.patterns().get(k))).range(0, 1).height(240).grid(8, 8)
                    .nameGaps(0, 0).hideAxes());
            small.addCellClickListener(e -> selectHead(hk));
            small.getElement().addEventListener("click", e -> selectHead(hk));
            if (hk == h) small.getStyle().set("outline", "2px solid var(--lumo-primary-color)");
            grid.add(small);
        }
        out.add(grid);
    }

    private void selectHead(int h) {
        state.set("head", h);
        rerun();
    }

    /** The pattern with the entries above the diagonal (keys after the query) left empty. */
    private static double[][] masked(float[][] p) {
        double[][] out = new double[p.length][p.length];
        for (int q = 0; q < p.length; q++)
            for (int k = 0; k < p.length; k++) out[q][k] = k > q ? Double.NaN : p[q][k];
        return out;
    }

    private static double[][] toDouble(float[][] p) {
        double[][] out = new double[p.length][];
        for (int q = 0; q < p.length; q++) {
            out[q] = new double[p[q].length];
            for (int k = 0; k < p[q].length; k++) out[q][k] = p[q][k];
        }
        return out;
    }
}
