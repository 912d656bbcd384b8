package dev.loupe.ui.explorer;

import com.vaadin.flow.component.html.Anchor;
import com.vaadin.flow.component.html.Div;
import com.vaadin.flow.component.html.H3;
import com.vaadin.flow.component.html.Paragraph;
import com.vaadin.flow.component.html.Span;
import com.vaadin.flow.component.select.Select;
import com.vaadin.flow.component.textfield.IntegerField;
import com.vaadin.flow.component.textfield.TextField;
import com.vaadin.flow.router.Route;
import com.vaadin.flow.server.StreamResource;
import dev.loupe.service.Explorer;
import dev.loupe.service.WeightCircuits;
import dev.loupe.ui.MainLayout;
import dev.loupe.ui.charts.Heatmap;
import dev.loupe.weights.Composition;
import dev.loupe.weights.HeadCircuits;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * A head's weights: its QK and OV circuits through the embedding (top rows with their top tokens, top pairs,
 * eigenvalue positivity) and the Q-, K-, V-composition scores of all heads as heatmaps with the random baseline.
 * State in the URL: layer, head, rows, sign, rank, token, comp (raw or minus the baseline).
 */
@Route(value = "model/:model/weights", layout = MainLayout.class)
public class WeightsView extends ExplorerPage {
    private final WeightCircuits circuits;
    private Select<Integer> layer, head;
    private Select<String> sign, rank;
    private IntegerField rows;
    private TextField token;

    public WeightsView(Explorer explorer, WeightCircuits circuits) {
        super(explorer);
        this.circuits = circuits;
    }

    @Override protected String route() { return "weights"; }
    @Override protected String title() { return "Weights"; }

    @Override
    protected void show() {
        body.removeAll();
        var c = config();
        layer = select("Layer", "layer", IntStream.range(0, c.nLayers()).boxed().toList(), state.getInt("layer"), 0);
        head = select("Head", "head", IntStream.range(0, c.nHeads()).boxed().toList(), state.getInt("head"), 0);
        sign = new Select<>();
        sign.setLabel("Entries");
        sign.setId("sign");
        sign.setItems("positive", "negative");
        sign.setItemLabelGenerator(s -> s.equals("positive") ? "largest" : "most negative");
        sign.setValue(state.get("sign", "positive").equals("negative") ? "negative" : "positive");
        boolean maxByDefault = HeadCircuits.defaultRank(c.dVocab()) == HeadCircuits.Rank.MAX;
        rank = new Select<>();
        rank.setLabel("Rows chosen by");
        rank.setId("rank");
        rank.setItems(List.of("max", "norm"));
        rank.setItemLabelGenerator(s -> s.equals("max") ? "largest entry (exact)" : "row norm");
        // the exact search is fast up to 8,192 tokens; at GPT-2's vocabulary it computes most entries of many heads
        if (!maxByDefault) rank.setHelperText("exact: up to a minute per head at " + String.format(Locale.ROOT, "%,d", c.dVocab()) + " tokens");
        rank.setValue(state.get("rank", maxByDefault ? "max" : "norm").equals("max") ? "max" : "norm");
        rows = new IntegerField("Rows");
        rows.setId("rows");
        rows.setMin(1);
        rows.setMax(WeightCircuits.MAX_ROWS);
        rows.setStepButtonsVisible(true);
        rows.setValue(state.getInt("rows") == null ? WeightCircuits.DEFAULT_ROWS : state.getInt("rows"));
        token = new TextField("Token");
        token.setId("token");
        token.setHelperText("optional: its row and column (· for a space, or #id)");
        token.setValue(state.get("token", ""));
        body.add(row(layer, head, sign, rank, rows, token, runButton(this::run)));
        showResults(this::render);
    }

    private Select<Integer> select(String label, String id, List<Integer> items, Integer value, int fallback) {
        Select<Integer> s = new Select<>();
        s.setLabel(label);
        s.setId(id);
        s.setItems(items);
        s.setValue(value != null && items.contains(value) ? value : fallback);
        s.addValueChangeListener(e -> { if (e.isFromClient()) run(); });
        return s;
    }

    private void run() {
        state.set("layer", layer.getValue(), "head", head.getValue(), "sign", sign.getValue().equals("positive") ? null : sign.getValue(),
                "rank", rank.getValue(), "rows", rows.getValue(), "token", token.getValue());
        rerun();
    }

    private void render(Div out) {
        // a bad layer or head in the URL: the form stays, the message names the problem
        int l = explorer.checkLayer(model, state.getInt("layer"));
        Integer hv = state.getInt("head");
        int h = hv == null ? 0 : explorer.checkHead(model, hv);
        WeightCircuits.Head r = ask(circuits.headQuery(model, l, h, state.getInt("rows"), state.get("sign"), state.get("rank"), state.get("token"))).result();
        Paragraph conv = new Paragraph("Weights as TransformerLens processes them: " + r.convention() + ".");
        conv.setId("convention");
        conv.getStyle().set("font-size", "var(--lumo-font-size-s)").set("color", "var(--lumo-secondary-text-color)");
        out.add(conv);
        Map<String, String> q = new LinkedHashMap<>();
        for (String k : List.of("rows", "sign", "rank", "token")) if (state.get(k) != null) q.put(k, state.get(k));
        String api = "/api/v1/models/" + model + "/weights/heads/" + l + "/" + h
                + (q.isEmpty() ? "" : "?" + new com.vaadin.flow.router.QueryParameters(q.entrySet().stream()
                .collect(Collectors.toMap(Map.Entry::getKey, e -> List.of(e.getValue()), (a, b) -> a, LinkedHashMap::new))).getQueryString());
        circuit(out, r.qk(), "qk", l, h, "attention score between the tokens' embeddings (query · key, before the 1/√d_head scale)", api);
        circuit(out, r.ov(), "ov", l, h, "change of the output token's logit per unit of attention to the source token", api);
        if (r.token() != null) tokenViews(out, r.token());
        composition(out, l, h);
    }

    private void circuit(Div out, HeadCircuits.Circuit c, String id, int l, int h, String meaning, String api) {
        String formula = id.equals("qk") ? "W_E·W_Q·W_Kᵀ·W_Eᵀ" : "W_E·W_V·W_O·W_U";
        out.add(new H3(c.name() + " circuit of head " + l + "." + h + " (" + formula + ")"));
        String chosen = c.rank().equals("max")
                ? "the " + c.rows().size() + " " + c.rowName() + "s holding the " + (c.negative() ? "most negative" : "largest") + " entries (exact: "
                + String.format(Locale.ROOT, "%,d", c.entriesComputed()) + " of " + String.format(Locale.ROOT, "%,d", c.entriesTotal()) + " entries computed)"
                : "the " + c.rows().size() + " " + c.rowName() + "s whose rows have the largest norm";
        Paragraph summary = new Paragraph(String.format(Locale.ROOT,
                "Entry [%s][%s]: %s. Rows shown: %s. Eigenvalue positivity Σλ/Σ|λ| = %.3f (%s); ‖%s‖_F = %.4g.",
                c.rowName(), c.colName(), meaning, chosen, c.positivity(),
                id.equals("ov") ? "1: the head copies, a source token raises its own logit" : "1: tokens attend to themselves",
                c.name(), c.norm()));
        summary.setId(id + "-summary");
        out.add(summary);

        MarkupTable table = new MarkupTable(id + "-rows", List.of(c.rowName(), "row norm", (c.negative() ? "most negative " : "top ") + c.colName() + "s"));
        for (HeadCircuits.Row row : c.rows())
            table.row(row.token().token(), fmt4(row.norm()), row.top().stream()
                    .map(s -> s.token().token() + " " + fmt4(s.value())).collect(Collectors.joining("   ")));
        Div wrap = table.div();
        wrap.getStyle().set("overflow-x", "auto");
        out.add(wrap);

        MarkupTable pairs = new MarkupTable(id + "-pairs", List.of("#", c.rowName(), c.colName(), "value"));
        for (int i = 0; i < c.pairs().size(); i++) {
            var p = c.pairs().get(i);
            pairs.row(String.valueOf(i + 1), p.row().token(), p.col().token(), fmt4(p.value()));
        }
        out.add(new Div(label(c.rank().equals("max") ? "Top pairs of the whole matrix" : "Top pairs among the rows shown"), pairs.div()));

        StringBuilder csv = new StringBuilder(c.rowName().replace(' ', '_') + "_id," + c.rowName().replace(' ', '_') + ","
                + c.colName().replace(' ', '_') + "_id," + c.colName().replace(' ', '_') + ",value\n");
        for (HeadCircuits.Row row : c.rows())
            for (var s : row.top())
                csv.append(row.token().id()).append(',').append(quote(row.token().text())).append(',').append(s.token().id()).append(',')
                        .append(quote(s.token().text())).append(',').append(s.value()).append('\n');
        byte[] bytes = csv.toString().getBytes(StandardCharsets.UTF_8);
        String name = "weights-" + model + "-" + l + "." + h + "-" + id;
        Anchor csvLink = new Anchor(new StreamResource(name + ".csv", () -> new ByteArrayInputStream(bytes)), "CSV");
        csvLink.setId(id + "-csv");
        csvLink.getElement().setAttribute("download", true);
        Anchor json = new Anchor(api, "JSON");
        json.setId(id + "-json");
        json.setRouterIgnore(true);
        json.getElement().setAttribute("download", name + ".json");
        out.add(new Div(label("Export: "), csvLink, new Span(" · "), json));
    }

    private void tokenViews(Div out, WeightCircuits.Tokens t) {
        out.add(new H3("Token " + t.qk().token().token()));
        MarkupTable table = new MarkupTable("token-rows", List.of("", "tokens"))
                .row("QK: keys it attends to as query", join(t.qk().asRow()))
                .row("QK: queries that attend to it as key", join(t.qk().asColumn()))
                .row("OV: output tokens it raises as source", join(t.ov().asRow()))
                .row("OV: source tokens that raise it", join(t.ov().asColumn()));
        out.add(table.div());
    }

    private static String join(List<HeadCircuits.Scored> s) {
        return s.stream().map(x -> x.token().token() + " " + fmt4(x.value())).collect(Collectors.joining("   "));
    }

    private void composition(Div out, int l, int h) {
        var c = config();
        out.add(new H3("Composition scores"));
        if (c.nLayers() < 2) {
            out.add(new Paragraph("One layer: no head reads what another head wrote."));
            return;
        }
        Composition.Result r = ask(circuits.compositionQuery(model)).result();
        var b = r.baseline();
        boolean minus = "minus".equals(state.get("comp"));
        Paragraph base = new Paragraph(String.format(Locale.ROOT,
                "Score = ‖W_OV(sender)·W(receiver)‖_F / (‖W_OV(sender)‖_F‖W(receiver)‖_F), TransformerLens's all_composition_scores. "
                        + "Random matrices of the same shapes (d_model %d, d_head %d, %d draws) score %.4f ± %.4f (95th percentile %.4f; "
                        + "E[score²] = 1/d_model = %.4f): scores well above that are composition.",
                c.dModel(), c.dHead(), b.samples(), b.mean(), b.std(), b.p95(), 1.0 / c.dModel()));
        base.setId("baseline");
        out.add(base);
        Select<String> mode = new Select<>();
        mode.setId("comp-mode");
        mode.setLabel("Show");
        mode.setItems("raw", "minus");
        mode.setItemLabelGenerator(m -> m.equals("raw") ? "scores" : "scores − random baseline mean");
        mode.setValue(minus ? "minus" : "raw");
        mode.addValueChangeListener(e -> { if (e.isFromClient()) { state.set("comp", e.getValue().equals("minus") ? "minus" : null); rerun(); } });
        out.add(mode, label("Rows: receiver heads; columns: sender heads of earlier layers. Click a cell to open the receiver's weights."));
        double max = 0;
        for (Double[][] m : List.of(r.q(), r.k(), r.v())) for (Double[] row : m) for (Double v : row) if (v != null) max = Math.max(max, v);
        Div grid = new Div();
        grid.getStyle().set("display", "grid").set("grid-template-columns", "repeat(auto-fit, minmax(380px, 1fr))").set("gap", "12px");
        boolean text = r.receivers().size() * r.senders().size() <= 400;
        for (String kind : List.of("q", "k", "v")) {
            Double[][] m = switch (kind) { case "q" -> r.q(); case "k" -> r.k(); default -> r.v(); };
            double[][] values = new double[m.length][];
            String[][] cellText = new String[m.length][];
            for (int i = 0; i < m.length; i++) {
                values[i] = new double[m[i].length];
                cellText[i] = new String[m[i].length];
                for (int j = 0; j < m[i].length; j++) {
                    values[i][j] = m[i][j] == null ? Double.NaN : m[i][j] - (minus ? b.mean() : 0);
                    cellText[i][j] = m[i][j] == null ? "" : String.format(Locale.ROOT, "%.2f", values[i][j]);
                }
            }
            Heatmap map = new Heatmap();
            map.setId("comp-" + kind);
            Heatmap.Spec spec = new Heatmap.Spec().title(kind.toUpperCase(Locale.ROOT) + "-composition" + (minus ? " − baseline" : ""))
                    .xLabels(r.senders()).yLabels(r.receivers()).axisNames("sender head", "receiver head").values(values)
                    .range(minus ? -max : 0, max).legend().xRotate(r.senders().size() > 12 ? 90 : 0)
                    .height(Math.max(260, 140 + 22 * r.receivers().size())).grid(60, 70).nameGaps(r.senders().size() > 12 ? 44 : 26, 44);
            if (minus) spec.diverging();
            if (text) spec.text(cellText).canvas();
            map.show(spec);
            map.addCellClickListener(e -> {
                String[] lh = r.receivers().get(e.y()).split("\\.");
                state.set("layer", Integer.parseInt(lh[0]), "head", Integer.parseInt(lh[1]));
                rerun();
            });
            grid.add(map);
        }
        out.add(grid);
    }

    private static String quote(String s) {
        return s.matches("(?s).*[\",\n\r].*") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }

    static String fmt4(double v) { return String.format(Locale.ROOT, "%.4f", v); }
}
