package dev.loupe.ui.explorer;

import com.vaadin.flow.component.html.Div;
import com.vaadin.flow.component.html.Paragraph;
import com.vaadin.flow.component.radiobutton.RadioButtonGroup;
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

    private TextArea prompt;
    private RadioButtonGroup<String> mode;
    private TextField token;

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
        token = new TextField("Token (· for a space, or #id)");
        token.setId("lens-token");
        token.setValue(state.get("token", ""));
        token.setEnabled(mode.getValue().equals(CHOSEN));
        mode.addValueChangeListener(e -> token.setEnabled(CHOSEN.equals(e.getValue())));
        body.add(row(prompt, runButton(this::run)), row(mode, token));
        showResults(this::render);
    }

    private void run() {
        if (!validPrompt(prompt.getValue())) return;
        boolean chosen = CHOSEN.equals(mode.getValue());
        if (chosen && token.getValue().isEmpty()) {
            fail("type the token whose probability to show");
            return;
        }
        state.set("text", prompt.getValue(), "token", chosen ? token.getValue() : null);
        rerun();
    }

    private void render(Div out) {
        var answer = ask(explorer.logitLensQuery(model, state.get("text"), state.get("token")));
        LogitLens.Result r = answer.result();
        int layers = r.layers().size(), t = r.tokens().size();
        boolean chosen = r.target() != null;

        List<String> x = new ArrayList<>();
        for (int p = 0; p < t; p++) x.add(p + " " + r.tokens().get(p).token());
        List<String> y = new ArrayList<>();
        for (String l : r.layers()) y.add(l.equals("output") ? "output" : "L" + l.split("\\.")[1] + " resid_pre");

        double[][] values = new double[layers][t];
        String[][] text = new String[layers][t];
        String[][] tips = new String[layers][t];
        for (int l = 0; l < layers; l++) {
            for (int p = 0; p < t; p++) {
                LogitLens.Cell c = r.cells().get(l).get(p);
                Candidate top = c.top().get(0);
                values[l][p] = chosen ? c.target() : top.prob();
                text[l][p] = chosen ? pct(c.target()) : shorten(top.token());
                StringBuilder tip = new StringBuilder();
                if (chosen) tip.append(r.target().token()).append(": ").append(pct(c.target())).append(" (rank ").append(c.targetRank()).append(")\n");
                tip.append("top 5:");
                for (Candidate k : c.top()) tip.append("\n").append(k.token()).append("  ").append(pct(k.prob()));
                tips[l][p] = tip.toString();
            }
        }
        out.add(new Paragraph(chosen
                ? "Probability of " + r.target().token() + " (id " + r.target().id() + ") at every layer and position."
                : "The most likely next token at every layer and position; colour: its probability."));
        Heatmap map = new Heatmap();
        map.setId("lens-map");
        map.show(new Heatmap.Spec().xLabels(x).yLabels(y).axisNames("position", "layer").values(values).text(text).tips(tips)
                .range(0, 1).legend().height(Math.max(260, 110 + 34 * layers)).grid(120, 110).nameGaps(80, 100)
                .labelSize(t > 40 ? 8 : 10));
        out.add(map);
        TokenInfo last = r.tokens().get(t - 1);
        Candidate finalTop = r.cells().get(layers - 1).get(t - 1).top().get(0);
        Paragraph summary = new Paragraph("After the last token " + last.token() + ", the model predicts " + finalTop.token()
                + " (" + pct(finalTop.prob()) + ")" + (answer.cached() ? " · from the cache" : ""));
        summary.setId("lens-summary");
        out.add(summary);
    }

    private static String shorten(String s) { return s.length() > 9 ? s.substring(0, 8) + "…" : s; }
}
