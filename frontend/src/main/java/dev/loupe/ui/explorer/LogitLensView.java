package dev.loupe.ui.explorer;

import com.vaadin.flow.component.html.Div;
import com.vaadin.flow.component.html.Paragraph;
import com.vaadin.flow.component.radiobutton.RadioButtonGroup;
import com.vaadin.flow.component.select.Select;
import com.vaadin.flow.component.textfield.TextArea;
import com.vaadin.flow.component.textfield.TextField;
import com.vaadin.flow.router.Route;
import dev.loupe.analysis.Candidate;
import dev.loupe.analysis.LogitLens;
import dev.loupe.analysis.TokenInfo;
import dev.loupe.service.Explorer;
import dev.loupe.ui.MainLayout;
import dev.loupe.ui.charts.Heatmap;

import java.util.ArrayList;
import java.util.List;

/**
 * The logit lens as a layer × position heatmap: the top token of every layer's residual stream (written in the
 * cell, coloured by its probability), or the probability of a chosen token; hovering a cell shows the top 5.
 */
@Route(value = "model/:model/lens", layout = MainLayout.class)
public class LogitLensView extends ExplorerPage {
    static final String TOP = "Top token";
    static final String CHOSEN = "Probability of a token";
    /** Positions shown at first on long prompts (the zoom window over the last ones). */
    static final int WINDOW = 40;
    /** The log scale's floor: probabilities below it get its colour. */
    static final double FLOOR = 1e-6;

    private TextArea prompt;
    private RadioButtonGroup<String> mode;
    private TextField token;
    private RadioButtonGroup<String> scale;
    private Select<String> stream;

    public LogitLensView(Explorer explorer) {
        super(explorer);
    }

    @Override protected String route() { return "lens"; }
    @Override protected String title() { return "Logit lens"; }

    @Override
    protected void show() {
        prompt = startWithPrompt(this::run);
        mode = new RadioButtonGroup<>("Show");
        mode.setId("lens-mode");
        mode.setItems(TOP, CHOSEN);
        mode.setValue(state.get("token") == null ? TOP : CHOSEN);
        token = tokenField("Token", "lens-token", "token", "· for a space, or #id");
        token.setEnabled(mode.getValue().equals(CHOSEN));
        // a token's probability spans orders of magnitude: log scale unless asked otherwise
        scale = new RadioButtonGroup<>("Colour scale");
        scale.setId("lens-scale");
        scale.setItems("log", "linear");
        scale.setValue("linear".equals(state.get("scale")) ? "linear" : "log");
        scale.setEnabled(token.isEnabled());
        mode.addValueChangeListener(e -> {
            token.setEnabled(CHOSEN.equals(e.getValue()));
            scale.setEnabled(token.isEnabled());
        });
        // which vectors of every block are lensed
        stream = new Select<>();
        stream.setLabel("Stream");
        stream.setId("lens-stream");
        stream.setWidth("14em"); // "resid_pre (+ output)" whole
        List<String> streams = new ArrayList<>();
        for (LogitLens.Stream st : LogitLens.Stream.values()) if (st.existsIn(config())) streams.add(st.key());
        stream.setItems(streams);
        stream.setItemLabelGenerator(k -> k.equals("all") ? "all (forward order)" : k.equals("resid_pre") ? "resid_pre (+ output)" : k);
        stream.setValue(streams.contains(state.get("stream")) ? state.get("stream") : "resid_pre");
        body.add(row(prompt, runButton(this::run)), row(stream, mode, token, scale));
        showResults(this::render);
    }

    private void run() {
        if (!validPrompt(prompt.getValue())) return;
        boolean chosen = CHOSEN.equals(mode.getValue());
        if (chosen && token.getValue().isEmpty()) {
            fail("type the token whose probability to show");
            return;
        }
        state.set("text", prompt.getValue(), "stream", "resid_pre".equals(stream.getValue()) ? null : stream.getValue(),
                "token", chosen ? token.getValue() : null,
                "scale", chosen && "linear".equals(scale.getValue()) ? "linear" : null);
        rerun();
    }

    private void render(Div out) {
        String text = state.get("text"), tok = state.get("token"), st = state.get("stream");
        var full = explorer.logitLensQuery(model, text, tok, st);
        int t = explorer.tokenize(model, text).length;
        LogitLens.Result r = t > WINDOW ? explorer.cached(full).orElse(null) : null;
        boolean cached = r != null;
        if (r == null) {
            // a long prompt: the window shown first is computed first, the other positions after it (by push)
            var first = t > WINDOW ? explorer.logitLensQuery(model, text, tok, st, t - WINDOW) : full;
            var answer = ask(first);
            r = answer.result();
            cached = answer.cached();
        }
        boolean chosen = r.target() != null;
        boolean log = chosen && !"linear".equals(state.get("scale"));
        out.add(new Paragraph((chosen
                ? "Probability of " + explorer.tokenizer(model).labels(r.target().id()).get(0) + " (id " + r.target().id() + ") at every layer and position"
                  + (log ? ", coloured on a log scale; each cell shows the token's rank among the " + config().dVocab() + " tokens (#1 is the top)." : ".")
                : "The most likely next token at every layer and position; colour: its probability.")
                + " Each row is " + streamText(r.stream()) + ", read through the final LayerNorm (with its own scale) and the unembedding."));
        Heatmap map = new Heatmap();
        map.setId("lens-map");
        map.show(spec(r, log));
        out.add(map);
        int layers = r.layers().size();
        Candidate finalTop = r.cells().get(layers - 1).get(t - 1).top().get(0);
        var tokenizer = explorer.tokenizer(model);
        String lastName = tokenizer.labels(r.tokens().stream().mapToInt(TokenInfo::id).toArray()).get(t - 1);
        Paragraph summary = new Paragraph("After the last token " + lastName + ", the model predicts " + tokenizer.labels(finalTop.id()).get(0)
                + " (" + pct(finalTop.prob()) + ")" + (cached ? " · from the cache" : ""));
        summary.setId("lens-summary");
        out.add(summary);
        boolean complete = r.cells().get(0).get(0) != null;
        map.getElement().setAttribute("data-complete", String.valueOf(complete));
        if (complete) return;
        com.vaadin.flow.component.html.Span rest = label("Computing positions 0–" + (t - WINDOW - 1) + " (the zoom window's are shown)…");
        rest.setId("lens-rest");
        out.add(rest);
        String client = dev.loupe.ui.UiClient.current();
        // opened by a navigation the view is not attached yet: the request's UI receives the rest
        dev.loupe.ui.UiTimer.background(ui(), () -> explorer.answer(full, client).result(), (all, e) -> {
            if (e != null) {
                rest.setText("The other positions could not be computed: " + e.getMessage());
                return;
            }
            map.show(spec(all, log));
            map.getElement().setAttribute("data-complete", "true");
            rest.setVisible(false);
        });
    }

    /** The heatmap of a lens; positions without cells (not computed yet) are left empty. */
    private Heatmap.Spec spec(LogitLens.Result r, boolean log) {
        int layers = r.layers().size(), t = r.tokens().size();
        boolean chosen = r.target() != null;
        var tok = explorer.tokenizer(model);
        // byte-level pieces read as the characters they form together, stray bytes as ⟨E5 BE⟩
        List<String> words = tok.labels(r.tokens().stream().mapToInt(TokenInfo::id).toArray());
        java.util.Map<Integer, String> names = new java.util.HashMap<>();
        java.util.function.IntFunction<String> name = id -> names.computeIfAbsent(id, i -> tok.labels(i).get(0));
        List<String> x = new ArrayList<>();
        for (int p = 0; p < t; p++) x.add(p + " " + words.get(p));
        List<String> y = new ArrayList<>();
        for (String l : r.layers()) y.add(rowLabel(l));
        double[][] values = new double[layers][t];
        String[][] text = new String[layers][t];
        String[][] tips = new String[layers][t];
        for (int l = 0; l < layers; l++) {
            for (int p = 0; p < t; p++) {
                LogitLens.Cell c = r.cells().get(l).get(p);
                if (c == null) {
                    values[l][p] = Double.NaN;
                    text[l][p] = "";
                    tips[l][p] = "";
                    continue;
                }
                Candidate top = c.top().get(0);
                values[l][p] = log ? Math.log10(Math.max(FLOOR, c.target())) : chosen ? c.target() : top.prob();
                // the chart cuts a label to its cell's width; the tooltip has it whole
                text[l][p] = log ? "#" + c.targetRank() : chosen ? pct(c.target()) : name.apply(top.id());
                StringBuilder tip = new StringBuilder();
                if (chosen) tip.append(name.apply(r.target().id())).append(": ").append(pct(c.target())).append(" (rank ").append(c.targetRank()).append(")\n");
                tip.append("top 5:");
                for (Candidate k : c.top()) tip.append("\n").append(name.apply(k.id())).append("  ").append(pct(k.prob()));
                tips[l][p] = tip.toString();
            }
        }
        Heatmap.Spec spec = new Heatmap.Spec().xLabels(x).yLabels(y).axisNames("position", "layer").values(values).text(text).tips(tips)
                .legend().height(Math.max(260, 110 + (layers > 20 ? 24 : 34) * layers)).grid(120, 110).nameGaps(80, 100).labelSize(10).fitText();
        if (log) spec.range(Math.log10(FLOOR), 0).legendText("100%", "0.0001%"); // FLOOR
        else spec.range(0, 1);
        // long prompts open on the last positions, with a slider over the rest
        if (t > WINDOW) spec.zoomX(WINDOW);
        return spec;
    }

    private static String streamText(String stream) {
        return switch (stream) {
            case "resid_pre" -> "the residual stream before a block (the last row: the model's output)";
            case "resid_mid" -> "the residual stream between a block's attention and its MLP";
            case "resid_post" -> "the residual stream after a block (the last row is the model's output)";
            case "attn_out" -> "a block's attention output alone";
            case "mlp_out" -> "a block's MLP output alone";
            default -> "one stream of a block, in forward order (the last row is the model's output)";
        };
    }

    /** {@code blocks.3.hook_attn_out} as "L3 attn_out"; the output as it is. */
    static String rowLabel(String hook) {
        if (hook.equals(LogitLens.OUTPUT)) return hook;
        String[] p = hook.split("\\.");
        return "L" + p[1] + " " + p[2].substring("hook_".length());
    }

}
