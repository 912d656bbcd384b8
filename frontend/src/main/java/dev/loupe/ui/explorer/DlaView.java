package dev.loupe.ui.explorer;

import com.vaadin.flow.component.checkbox.Checkbox;
import com.vaadin.flow.component.html.Div;
import com.vaadin.flow.component.html.H3;
import com.vaadin.flow.component.html.Paragraph;
import com.vaadin.flow.component.select.Select;
import com.vaadin.flow.component.textfield.TextArea;
import com.vaadin.flow.component.textfield.TextField;
import com.vaadin.flow.router.Route;
import dev.loupe.analysis.DirectLogitAttribution;
import dev.loupe.analysis.DlaBySource;
import dev.loupe.service.Explorer;
import dev.loupe.ui.MainLayout;
import dev.loupe.ui.charts.Bars;
import dev.loupe.ui.charts.Heatmap;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.IntStream;

/**
 * Direct logit attribution: at a position, each head's contribution to logit(A) − logit(B) (or logit(A)) as a
 * layer × head heatmap, and the embeddings, MLPs and biases as bars; the total equals the model's logit difference.
 */
@Route(value = "model/:model/dla", layout = MainLayout.class)
public class DlaView extends ExplorerPage {
    private TextArea prompt;
    private Select<Integer> position;
    private TextField tokenA, tokenB;
    private Checkbox bySource;

    public DlaView(Explorer explorer) {
        super(explorer);
    }

    @Override protected String route() { return "dla"; }
    @Override protected String title() { return "Direct logit attribution"; }

    @Override
    protected void show() {
        prompt = startWithPrompt(this::run);
        position = new Select<>();
        position.setLabel("Position");
        position.setId("position");
        tokenA = tokenField("Token A", "token-a", "a", "empty: the top prediction");
        tokenB = tokenField("Token B", "token-b", "b", "empty: logit(A) alone");
        bySource = new Checkbox("Split heads by source position");
        bySource.setId("by-source");
        bySource.setTooltipText("which earlier token each head's contribution came from: attention × value · W_O");
        bySource.setValue(sourcesOn());
        bySource.addValueChangeListener(e -> run());
        body.add(row(prompt, runButton(this::run)), row(position, tokenA, tokenB, bySource));
        showResults(this::render);
    }

    private void run() {
        if (!validPrompt(prompt.getValue())) return;
        // a new prompt starts at its last position again
        Integer pos = prompt.getValue().equals(state.get("text")) ? position.getValue() : null;
        state.set("text", prompt.getValue(), "position", pos, "a", tokenA.getValue(), "b", tokenB.getValue(),
                "sources", bySource.getValue() ? "true" : null);
        rerun();
    }

    private void render(Div out) {
        String text = state.get("text");
        int[] ids = explorer.tokenize(model, text);
        var tokens = explorer.subject(model).tokens(ids);
        int pos = explorer.checkPosition(ids, state.getInt("position"));
        position.setItems(IntStream.range(0, ids.length).boxed().toList());
        position.setItemLabelGenerator(p -> p + ": " + tokens.get(p).token());
        position.setValue(pos);

        // split by source: one run gives the attribution and the split
        Explorer.Answer<?> answer;
        DirectLogitAttribution.Result r;
        double[][][] sources = null;
        if (sourcesOn()) {
            var a = ask(explorer.dlaSourcesQuery(model, text, pos, state.get("a"), state.get("b")));
            answer = a;
            r = a.result().dla();
            sources = a.result().sources();
        } else {
            var a = ask(explorer.dlaQuery(model, text, pos, state.get("a"), state.get("b")));
            answer = a;
            r = a.result();
        }
        if (tokenA.getValue().isEmpty()) tokenA.setPlaceholder(r.a().token());
        var c = config();
        String metric = r.b() == null ? "logit(" + r.a().token() + ")" : "logit(" + r.a().token() + ") − logit(" + r.b().token() + ")";
        out.add(new Paragraph("Contributions to " + metric + " at position " + pos + " (" + r.tokens().get(pos).token()
                + "), through the final LayerNorm scale of the real run."));

        double[][] heads = r.heads();
        double maxAbs = 1e-6;
        for (double[] l : heads) for (double v : l) maxAbs = Math.max(maxAbs, Math.abs(v));
        String[][] cellText = new String[c.nLayers()][c.nHeads()];
        for (int l = 0; l < c.nLayers(); l++) for (int h = 0; h < c.nHeads(); h++) cellText[l][h] = String.format(Locale.ROOT, "%.2f", heads[l][h]);
        List<String> x = IntStream.range(0, c.nHeads()).mapToObj(h -> "H" + h).toList();
        List<String> y = IntStream.range(0, c.nLayers()).mapToObj(l -> "L" + l).toList();
        out.add(new H3("Heads"));
        Heatmap map = new Heatmap();
        map.setId("dla-heads");
        map.show(new Heatmap.Spec().xLabels(x).yLabels(y).axisNames("head", "layer").values(heads).text(cellText)
                .range(-maxAbs, maxAbs).diverging().legend().xRotate(0).height(Math.max(220, 120 + 34 * c.nLayers()))
                .grid(60, 90).nameGaps(28, 40));
        out.add(map);
        if (sources != null) out.add(sourcesChart(sources, tokens, pos));

        List<String> labels = new ArrayList<>(List.of("token embedding", "position embedding"));
        List<Double> values = new ArrayList<>(List.of(r.embed(), r.posEmbed()));
        for (int l = 0; l < r.mlps().length; l++) {
            labels.add("MLP " + l);
            values.add(r.mlps()[l]);
        }
        double biases = 0;
        for (double v : r.attnBias()) biases += v;
        labels.add("attention biases (b_O)");
        values.add(biases);
        labels.add("final LayerNorm bias");
        values.add(r.lnFinalBias());
        double headSum = 0;
        for (double[] l : heads) for (double v : l) headSum += v;
        labels.add("all heads");
        values.add(headSum);
        out.add(new H3("Embeddings, MLPs and biases"));
        Bars bars = new Bars();
        bars.setId("dla-bars");
        bars.show(null, labels, values.stream().mapToDouble(Double::doubleValue).toArray(), "contribution", true);
        out.add(bars);

        Paragraph total = new Paragraph(String.format(Locale.ROOT, "Sum of contributions: %.4f · model's %s: %.4f%s",
                r.total(), metric, r.logitDiff(), answer.cached() ? " · from the cache" : ""));
        total.setId("dla-total");
        out.add(total);
    }

    private boolean sourcesOn() { return "true".equals(state.get("sources")); }

    /** Every head's contribution split by source position: rows L.H, columns the positions up to the chosen one. */
    private Div sourcesChart(double[][][] sources, List<dev.loupe.analysis.TokenInfo> tokens, int pos) {
        var c = config();
        int rows = c.nLayers() * c.nHeads(), cols = pos + 1;
        double[][] values = new double[rows][cols];
        double maxAbs = 1e-6;
        List<String> y = new ArrayList<>();
        for (int l = 0; l < c.nLayers(); l++)
            for (int h = 0; h < c.nHeads(); h++) {
                int row = l * c.nHeads() + h;
                y.add("L" + l + " H" + h);
                // no per-cell tooltip text: the chart's own names the head, the source and the value (a full context is 12k cells)
                for (int src = 0; src < cols; src++) {
                    double v = sources[l][h][src];
                    values[row][src] = v;
                    maxAbs = Math.max(maxAbs, Math.abs(v));
                }
            }
        List<String> x = new ArrayList<>();
        for (int p = 0; p < cols; p++) x.add(p + " " + tokens.get(p).token());
        Div box = new Div(new H3("Heads by source position"),
                new Paragraph("Each head's contribution split by the earlier token it came from (attention × value · W_O, through the same "
                        + "LayerNorm scale); a row sums to the head's cell above."));
        Heatmap map = new Heatmap();
        map.setId("dla-sources");
        Heatmap.Spec spec = new Heatmap.Spec().xLabels(x).yLabels(y).axisNames("source position", "head").values(values)
                .range(-maxAbs, maxAbs).diverging().legend().height(Math.max(240, 130 + Math.min(22, 600 / rows + 8) * rows))
                .grid(70, 110).nameGaps(80, 45).labelSize(10);
        if (cols > 60) spec.zoomX(60);
        map.show(spec);
        box.add(map);
        return box;
    }
}
