package dev.loupe.ui.explorer;

import com.vaadin.flow.component.grid.ColumnTextAlign;
import com.vaadin.flow.component.grid.Grid;
import com.vaadin.flow.component.grid.GridSortOrder;
import com.vaadin.flow.component.grid.GridVariant;
import com.vaadin.flow.component.html.Anchor;
import com.vaadin.flow.component.html.Div;
import com.vaadin.flow.component.html.Paragraph;
import com.vaadin.flow.component.select.Select;
import com.vaadin.flow.component.textfield.TextArea;
import com.vaadin.flow.component.textfield.TextField;
import com.vaadin.flow.data.provider.SortDirection;
import com.vaadin.flow.router.QueryParameters;
import com.vaadin.flow.router.Route;
import dev.loupe.analysis.PromptComparison;
import dev.loupe.service.Explorer;
import dev.loupe.ui.MainLayout;
import dev.loupe.ui.charts.Bars;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Compare prompts: one metric (a logit difference, a token's probability, the loss) over a list of prompts, as a
 * sortable table with a CSV download and bars; each prompt links to its attribution or prompt view.
 */
@Route(value = "model/:model/compare", layout = MainLayout.class)
public class CompareView extends ExplorerPage {
    /**
     * The longest list kept in the page URL (characters): a server refuses request lines of a few KB (HTTP 414), so
     * a longer list is sent to the server only in the page's own requests, and the URL holds the stored result's id.
     */
    static final int URL_LIST_MAX = 1500;
    private TextArea prompts;
    /** The list shown: from the URL, the stored result of its id, or the form. */
    private String list;
    /** The list just run from the form (a long one is in no URL). */
    private String typed;
    private Select<String> metric;
    private TextField tokenA, tokenB;

    public CompareView(Explorer explorer) {
        super(explorer);
    }

    @Override protected String route() { return "compare"; }
    @Override protected String title() { return "Compare prompts"; }

    @Override
    protected void show() {
        body.removeAll();
        PromptComparison.Result stored = null;
        if (typed != null) {
            list = typed;
            typed = null;
        } else if (state.get("id") != null) {
            // a long list shared by the id of its result
            String problem;
            try {
                stored = explorer.storedComparison(model, state.get("id")).orElse(null);
                problem = "no stored comparison " + state.get("id") + " (it may have been evicted): paste the prompts and run again";
            } catch (dev.loupe.api.ApiException e) {
                problem = e.getMessage(); // another model's comparison: the form stays, empty
            }
            if (stored == null) {
                fail(problem);
                list = "";
            } else {
                list = String.join("\n", stored.rows().stream().map(PromptComparison.Row::text).toList());
                state.set("metric", stored.metric().equals("logit_diff") ? null : stored.metric(),
                        "a", stored.a() == null ? null : "#" + stored.a().id(), "b", stored.b() == null ? null : "#" + stored.b().id());
            }
        }
        else {
            // the navigation's prompt seeds the list
            if (state.get("prompts") == null)
                state.set("prompts", state.get("text") == null ? samplePrompts() : state.get("text"), "text", null);
            list = state.get("prompts", "");
        }
        prompts = new TextArea("Prompts, one per line (" + (explorer.tokenizer(model).bosId() < 0 ? "no BOS token" : bosToken() + " is prepended to each") + ")");
        prompts.setId("prompts");
        prompts.setValue(list);
        prompts.setWidthFull();
        prompts.setMaxHeight("14em");
        metric = new Select<>();
        metric.setLabel("Metric");
        metric.setId("metric");
        metric.setWidth("24em");
        List<String> keys = new ArrayList<>();
        for (PromptComparison.Metric m : PromptComparison.Metric.values()) keys.add(m.key());
        metric.setItems(keys);
        metric.setItemLabelGenerator(k -> PromptComparison.Metric.parse(k).description);
        metric.setValue(keys.contains(state.get("metric")) ? state.get("metric") : "logit_diff");
        tokenA = tokenField("Token A", "token-a", "a", "· for a space, or #id");
        tokenB = tokenField("Token B", "token-b", "b", null);
        Runnable enable = () -> {
            tokenA.setEnabled(!metric.getValue().equals("loss"));
            tokenB.setEnabled(metric.getValue().equals("logit_diff"));
        };
        enable.run();
        metric.addValueChangeListener(e -> enable.run());
        body.add(row(prompts, runButton(this::run)), row(metric, tokenA, tokenB));
        showResults(this::render);
    }

    private String samplePrompts() {
        if (explorer.tokenizer(model) instanceof dev.loupe.tokenizer.ListTokenizer) return samplePrompt();
        return String.join("\n", "When Mary and John went to the store, John gave a drink to",
                "When Mary and John went to the store, Mary gave a drink to",
                "When Tom and James went to the park, James gave the ball to",
                "When Tom and James went to the park, Tom gave the ball to");
    }

    private void run() {
        for (String line : lines(prompts.getValue())) if (!validPrompt(line)) return;
        String m = metric.getValue();
        list = typed = prompts.getValue();
        // a long list does not go into the URL: its result's id does, once it is computed (see render)
        state.set("prompts", list.length() <= URL_LIST_MAX ? list : null, "id", null, "metric", m.equals("logit_diff") ? null : m,
                "a", m.equals("loss") ? null : tokenA.getValue(), "b", m.equals("logit_diff") ? tokenB.getValue() : null);
        rerun();
    }

    private static List<String> lines(String text) {
        return text == null ? List.of() : text.lines().filter(l -> !l.isBlank()).toList();
    }

    private void render(Div out) {
        String m = state.get("metric", "logit_diff");
        String a = state.get("a"), b = state.get("b");
        boolean needsA = !m.equals("loss");
        if (needsA && (a == null || (m.equals("logit_diff") && b == null))) {
            // defaults for the sample list: the two names
            if (a == null && b == null && list.startsWith("When Mary and John")) {
                a = "·Mary";
                b = m.equals("logit_diff") ? "·John" : null;
                tokenA.setValue(a);
                if (b != null) tokenB.setValue(b);
            } else {
                out.add(new Paragraph("Type token A" + (m.equals("logit_diff") ? " and token B" : "") + ", then Run."));
                return;
            }
        }
        List<String> texts = lines(list);
        var answer = ask(explorer.compareQuery(model, texts, m, a, b));
        PromptComparison.Result r = answer.result();
        boolean longList = list.length() > URL_LIST_MAX;
        if (longList) state.set("prompts", null, "id", answer.key());
        String metricName = switch (m) {
            case "logit_diff" -> "logit(" + r.a().token() + ") − logit(" + r.b().token() + ")";
            case "prob" -> "p(" + r.a().token() + ")";
            default -> "mean loss";
        };
        Paragraph summary = new Paragraph(r.rows().size() + " prompts · " + r.description() + (r.mean() == null ? "" : " · mean " + fmt(r.mean()))
                + (answer.cached() ? " · from the cache" : ""));
        summary.setId("compare-summary");
        out.add(summary);

        Grid<PromptComparison.Row> grid = new Grid<>();
        grid.setId("compare-table");
        grid.addThemeVariants(GridVariant.LUMO_COMPACT, GridVariant.LUMO_ROW_STRIPES, GridVariant.LUMO_WRAP_CELL_CONTENT);
        grid.addColumn(row -> row.index() + 1).setHeader("#").setWidth("56px").setFlexGrow(0).setSortable(true)
                .setComparator(Comparator.comparingInt(PromptComparison.Row::index));
        grid.addComponentColumn(row -> {
            Map<String, String> q = new LinkedHashMap<>();
            q.put("text", row.text());
            if (!m.equals("loss")) {
                q.put("a", state.get("a", r.a().token()));
                if (r.b() != null) q.put("b", state.get("b", r.b().token()));
            }
            Anchor link = new Anchor(link(model, m.equals("loss") ? "prompt" : "dla", q), row.text());
            link.getElement().setAttribute("title", m.equals("loss") ? "open in the prompt view" : "open its direct logit attribution");
            return link;
        }).setHeader("prompt").setFlexGrow(1).setSortable(true).setComparator(Comparator.comparing(PromptComparison.Row::text));
        Grid.Column<PromptComparison.Row> value = grid.addColumn(row -> row.value() == null ? "" : m.equals("prob") ? pct(row.value()) : fmt(row.value()))
                .setHeader(metricName).setAutoWidth(true).setFlexGrow(0).setTextAlign(ColumnTextAlign.END).setSortable(true)
                .setComparator(Comparator.comparing(row -> row.value() == null ? Double.NEGATIVE_INFINITY : row.value()));
        value.setId("value");
        grid.addColumn(PromptComparison.Row::tokens).setHeader("tokens").setAutoWidth(true).setFlexGrow(0).setSortable(true)
                .setComparator(Comparator.comparingInt(PromptComparison.Row::tokens));
        grid.addColumn(row -> row.top().token() + " " + pct(row.top().prob())).setHeader("top prediction").setAutoWidth(true).setFlexGrow(0);
        grid.setItems(r.rows());
        grid.setAllRowsVisible(r.rows().size() <= 30);
        if (r.rows().size() > 30) grid.setHeight("520px");
        out.add(grid);

        // a long list's downloads come from this page (a REST link would be too long): the same bytes as the API's
        Anchor csv = longList ? new Anchor(download("compare-" + model + ".csv", PromptComparison.csv(r).getBytes(java.nio.charset.StandardCharsets.UTF_8)), "Download CSV")
                : new Anchor(apiUrl(texts, m, a, b, "csv"), "Download CSV");
        csv.setId("compare-csv");
        csv.getElement().setAttribute("download", "compare-" + model + ".csv");
        Anchor json = longList ? new Anchor(download("compare-" + model + ".json", explorer.json(explorer.compareQuery(model, texts, m, a, b)).json()), "JSON")
                : new Anchor(apiUrl(texts, m, a, b, null), "JSON");
        json.setId("compare-json");
        json.setTarget("_blank");
        json.getStyle().set("margin-left", "1em");
        out.add(new Div(csv, json));

        Bars bars = new Bars();
        bars.setId("compare-bars");
        // each prompt from its start (the chart cuts what does not fit; the tooltip shows it whole)
        bars.labelWidth(380);
        List<String> labels = r.rows().stream().map(row -> (row.index() + 1) + ". " + row.text()).toList();
        double[] values = r.rows().stream().mapToDouble(row -> row.value() == null ? Double.NaN : row.value()).toArray();
        if (m.equals("prob")) bars.showPercent(null, labels, values);
        else bars.show(null, labels, values, metricName, m.equals("logit_diff"));
        out.add(bars);
        grid.sort(List.of(new GridSortOrder<>(value, SortDirection.DESCENDING)));
    }

    private static com.vaadin.flow.server.StreamResource download(String name, byte[] bytes) {
        return new com.vaadin.flow.server.StreamResource(name, () -> new java.io.ByteArrayInputStream(bytes));
    }

    private String apiUrl(List<String> texts, String m, String a, String b, String format) {
        Map<String, List<String>> q = new LinkedHashMap<>();
        q.put("text", texts);
        q.put("metric", List.of(m));
        if (a != null && !m.equals("loss")) q.put("a", List.of(a));
        if (b != null && m.equals("logit_diff")) q.put("b", List.of(b));
        if (format != null) q.put("format", List.of(format));
        return "/api/v1/models/" + model + "/compare?" + new QueryParameters(q).getQueryString();
    }

}
