package dev.loupe.ui.explorer;

import com.vaadin.flow.component.checkbox.Checkbox;
import com.vaadin.flow.component.html.Anchor;
import com.vaadin.flow.component.html.Div;
import com.vaadin.flow.component.html.Paragraph;
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
    private TextArea prompt;
    private Checkbox weighted;

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
        body.add(row(prompt, runButton(this::run)), row(weighted));
        showResults(this::render);
    }

    private void run() {
        if (!validPrompt(prompt.getValue())) return;
        state.set("text", prompt.getValue(), "weighted", weighted.getValue() ? "1" : null);
        rerun();
    }

    private void render(Div out) {
        boolean vw = "1".equals(state.get("weighted"));
        var answer = ask(explorer.allHeadsQuery(model, state.get("text"), vw));
        AllHeadsAttention.Result r = answer.result();
        int t = r.tokens().size();
        out.add(new Paragraph((vw
                ? "Value-weighted patterns: attention × the norm of what each key's value writes through the head, each head scaled to its own maximum. "
                : "Attention patterns, query (rows) × key (columns), darker is more attention. ")
                + "Hover a head to see it large; click to lock it." + (answer.cached() ? " From the cache." : "")));
        HeadGrid grid = new HeadGrid(t, true);
        grid.setId("all-heads");
        for (int l = 0; l < r.patterns().size(); l++) {
            float[][][] layer = r.patterns().get(l);
            for (int h = 0; h < layer.length; h++) grid.add(l, h, l + "." + h, vw ? scaled(layer[h]) : layer[h]);
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

    /** A head's value-weighted pattern divided by its maximum, so the thumbnail uses the whole colour range. */
    private static float[][] scaled(float[][] p) {
        float max = 1e-12f;
        for (float[] row : p) for (float v : row) max = Math.max(max, v);
        float[][] out = new float[p.length][];
        for (int q = 0; q < p.length; q++) {
            out[q] = new float[p[q].length];
            for (int k = 0; k < p[q].length; k++) out[q][k] = p[q][k] / max;
        }
        return out;
    }
}
