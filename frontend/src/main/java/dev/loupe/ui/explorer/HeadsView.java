package dev.loupe.ui.explorer;

import com.vaadin.flow.component.checkbox.Checkbox;
import com.vaadin.flow.component.html.Anchor;
import com.vaadin.flow.component.html.Div;
import com.vaadin.flow.component.html.Paragraph;
import com.vaadin.flow.component.radiobutton.RadioButtonGroup;
import com.vaadin.flow.component.textfield.TextArea;
import com.vaadin.flow.router.Route;
import dev.loupe.analysis.AllHeadsAttention;
import dev.loupe.service.Explorer;
import dev.loupe.ui.MainLayout;
import dev.loupe.ui.charts.HeadGrid;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Every head of every layer at once as thumbnails (CircuitsVis style): hover one to see it large, click to lock
 * it. Value-weighted patterns scale each key's column by ‖v_k W_O^h‖, what the head actually moves.
 */
@Route(value = "model/:model/heads", layout = MainLayout.class)
public class HeadsView extends ExplorerPage {
    static final String PER_HEAD = "per head", SHARED = "shared";
    private TextArea prompt;
    private Checkbox weighted;
    private RadioButtonGroup<String> scale;

    public HeadsView(Explorer explorer) {
        super(explorer);
    }

    @Override protected String route() { return "heads"; }
    @Override protected String title() { return "All heads"; }

    @Override
    protected void show() {
        prompt = startWithPrompt(this::run);
        weighted = new Checkbox("Value-weighted (A · ‖v W_O‖)", "1".equals(state.get("weighted")));
        weighted.setId("weighted");
        weighted.addValueChangeListener(e -> { if (e.isFromClient()) run(); });
        // faint patterns (long prompts spread attention thin) read better on their own scale
        scale = new RadioButtonGroup<>("Colour scale");
        scale.setId("heads-scale");
        scale.setItems(PER_HEAD, SHARED);
        scale.setValue(SHARED.equals(state.get("scale")) ? SHARED : PER_HEAD);
        scale.addValueChangeListener(e -> { if (e.isFromClient()) run(); });
        body.add(row(prompt, runButton(this::run)), row(weighted, scale));
        showResults(this::render);
    }

    private void run() {
        if (!validPrompt(prompt.getValue())) return;
        state.set("text", prompt.getValue(), "weighted", weighted.getValue() ? "1" : null, "scale", SHARED.equals(scale.getValue()) ? SHARED : null);
        rerun();
    }

    private void render(Div out) {
        boolean vw = "1".equals(state.get("weighted"));
        boolean shared = SHARED.equals(state.get("scale"));
        var answer = ask(explorer.allHeadsQuery(model, state.get("text"), vw));
        AllHeadsAttention.Result r = answer.result();
        int t = r.tokens().size();
        // the first query of a plain pattern attends only to itself (1 in every head): the scales leave it out
        int from = vw || t < 2 ? 0 : 1;
        float all = 0;
        for (float[][][] layer : r.patterns()) for (float[][] p : layer) all = Math.max(all, top(p, from, 1));
        String how = shared
                ? (vw ? "all heads on one scale (the largest value of any head is the darkest). " : "all heads on one scale: attention 0 to 1. ")
                : "each head on its own scale: the darkest is its " + OWN_SCALE_TEXT + (from > 0 ? " (after the first query, which attends only to itself)" : "")
                  + ", the cells above it saturate. ";
        out.add(new Paragraph((vw
                ? "Value-weighted patterns: attention × the norm of what each key's value writes through the head; "
                : "Attention patterns, query (rows) × key (columns), darker is more attention; ")
                + how + "Hover a head to see it large; click to lock it." + (answer.cached() ? " From the cache." : "")));
        HeadGrid grid = new HeadGrid(t, true);
        grid.setId("all-heads");
        for (int l = 0; l < r.patterns().size(); l++) {
            float[][][] layer = r.patterns().get(l);
            for (int h = 0; h < layer.length; h++) {
                float scale = shared ? (vw ? all : 1) : top(layer[h], from, OWN_SCALE);
                grid.add(l, h, l + "." + h, scaled(layer[h], scale));
            }
        }
        String locked = state.get("head");
        if (locked != null && locked.matches("\\d+\\.\\d+")) grid.select(Integer.parseInt(locked.split("\\.")[0]), Integer.parseInt(locked.split("\\.")[1]));
        grid.draw();
        Anchor open = new Anchor();
        open.setId("open-head");
        grid.addHeadClickListener(e -> {
            state.set("head", e.layer() + "." + e.head());
            Map<String, String> q = new LinkedHashMap<>();
            q.put("text", state.get("text"));
            q.put("layer", String.valueOf(e.layer()));
            q.put("head", String.valueOf(e.head()));
            open.setHref(link(model, "attention", q));
            open.setText("Open head " + e.layer() + "." + e.head() + " with token labels");
        });
        out.add(grid, open);
    }

    /**
     * A head's own scale: the quantile {@value #OWN_SCALE} of its cells. Its largest value would change little: at a
     * long prompt the early queries (few keys to share their attention) and the first key hold the large values, and
     * the rest of the thumbnail stays nearly white.
     */
    static final double OWN_SCALE = 0.99;
    static final String OWN_SCALE_TEXT = "99th percentile";

    /**
     * The quantile {@code q} of a causal pattern's cells (keys up to the query) from query {@code from} on: the cell
     * at index ⌊q · (m − 1)⌋ of the m cells sorted; its largest value when that is 0 (a head with few non-zero cells).
     */
    static float top(float[][] p, int from, double q) {
        int m = 0;
        for (int i = from; i < p.length; i++) m += Math.min(i + 1, p[i].length);
        if (m == 0) return 0;
        float[] cells = new float[m];
        int c = 0;
        for (int i = from; i < p.length; i++) for (int k = 0; k < Math.min(i + 1, p[i].length); k++) cells[c++] = p[i][k];
        java.util.Arrays.sort(cells);
        float v = cells[(int) Math.floor(q * (m - 1))];
        return v > 0 ? v : cells[m - 1];
    }

    /** A pattern divided by {@code scale} (the thumbnails clip what is above 1): its colour scale. */
    private static float[][] scaled(float[][] p, float scale) {
        float m = Math.max(scale, 1e-12f);
        float[][] out = new float[p.length][];
        for (int q = 0; q < p.length; q++) {
            out[q] = new float[p[q].length];
            for (int k = 0; k < p[q].length; k++) out[q][k] = p[q][k] / m;
        }
        return out;
    }
}
