package dev.loupe.ui.circuits;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.vaadin.flow.component.UI;
import com.vaadin.flow.component.button.Button;
import com.vaadin.flow.component.html.Anchor;
import com.vaadin.flow.component.html.Div;
import com.vaadin.flow.component.html.Input;
import com.vaadin.flow.component.html.Span;
import com.vaadin.flow.component.select.Select;
import com.vaadin.flow.component.textfield.IntegerField;
import com.vaadin.flow.component.textfield.NumberField;
import com.vaadin.flow.component.upload.Upload;
import com.vaadin.flow.router.Route;
import com.vaadin.flow.server.streams.UploadHandler;
import dev.loupe.circuits.CircuitTasks;
import dev.loupe.circuits.EdgeGraph;
import dev.loupe.jobs.JobInfo;
import dev.loupe.model.GptConfig;
import dev.loupe.service.CircuitJobKind;
import dev.loupe.service.CircuitService;
import dev.loupe.service.JobService;
import dev.loupe.service.Explorer;
import dev.loupe.ui.MainLayout;
import dev.loupe.ui.UiClient;
import dev.loupe.ui.jobs.JobProgressBar;
import dev.loupe.ui.charts.FaithfulnessChart;
import dev.loupe.ui.neurons.NeuronLinks;
import dev.loupe.ui.explorer.ExplorerPage;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Circuit discovery: a dataset (built-in task or uploaded pairs) and a method, run with progress; then the circuit
 * as a graph by layer with a top-n slider and the exact faithfulness of the shown set, the faithfulness curves,
 * pinned / hidden / grouped nodes, links to a head's attention or an MLP's neurons, and exports. The URL holds the
 * request, the result id, the slider and the pins, so a shared link reopens the same graph.
 */
@Route(value = "model/:model/circuits", layout = MainLayout.class)
public class CircuitsView extends ExplorerPage {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final CircuitService circuits;
    private final JobService jobs;
    private JsonNode uploaded;
    private JsonNode result;
    /** The node whose details are shown (kept across redraws). */
    private String selected;

    public CircuitsView(Explorer explorer, CircuitService circuits, JobService jobs) {
        super(explorer);
        this.circuits = circuits;
        this.jobs = jobs;
    }

    @Override protected String route() { return "circuits"; }
    @Override protected String title() { return "Circuits"; }

    @Override
    protected void show() {
        body.removeAll();
        GptConfig c = config();
        Select<String> task = new Select<>();
        task.setLabel("Dataset");
        task.setId("task");
        List<String> tasks = new ArrayList<>(CircuitTasks.NAMES);
        tasks.add("upload");
        task.setItems(tasks);
        task.setItemLabelGenerator(t -> t.equals("upload") ? "uploaded JSON" : "task: " + t);
        task.setValue(state.get("task", c.dVocab() >= 50000 ? "agreement" : "induction"));
        IntegerField pairs = intField("Pairs", "pairs", state.getInt("pairs") == null ? 32 : state.getInt("pairs"));
        Select<String> method = new Select<>();
        method.setLabel("Method");
        method.setId("method");
        method.setItems("eap", "eap-ig", "acdc");
        method.setValue(state.get("method", "eap-ig"));
        IntegerField steps = intField("EAP-IG steps", "steps", state.getInt("steps") == null ? 5 : state.getInt("steps"));
        NumberField tau = new NumberField("ACDC τ");
        tau.setId("tau");
        tau.setValue(Double.parseDouble(state.get("tau", "0.05")));
        tau.setStep(0.01);
        Select<String> objective = new Select<>();
        objective.setLabel("ACDC metric");
        objective.setId("objective");
        objective.setItems("kl", "metric");
        objective.setValue(state.get("objective", "kl"));
        UI ui = UI.getCurrent();
        Upload upload = new Upload(UploadHandler.inMemory((meta, bytes) -> {
            try {
                uploaded = JSON.readTree(new String(bytes, StandardCharsets.UTF_8));
                ui.access(() -> task.setValue("upload"));
            } catch (Exception e) {
                uploaded = null;
                ui.access(() -> fail(meta.fileName() + " is not valid JSON"));
            }
        }));
        upload.setId("upload");
        upload.setAcceptedFileTypes("application/json", ".json");
        upload.setMaxFiles(1);
        upload.setDropLabel(new Span("Dataset JSON: {\"prompts\": [{clean, corrupt, answer, wrong}]}"));
        Button run = runButton(() -> {
            selected = null;
            state.set("task", task.getValue(), "pairs", pairs.getValue(), "method", method.getValue(), "steps", steps.getValue(),
                    "tau", tau.getValue(), "objective", objective.getValue(), "id", null, "top", null, "pins", null, "hidden", null, "group", null);
            start();
        });
        body.add(row(task, pairs, method, steps, tau, objective, run), upload);
        Div results = new Div();
        results.setId("results");
        results.setWidthFull();
        body.add(results);
        if (state.get("id") != null) guarded(() -> {
            result = readJson(circuits.result(model, state.get("id")));
            render(results);
        });
    }

    private static JsonNode readJson(byte[] json) {
        try {
            return JSON.readTree(json);
        } catch (java.io.IOException e) {
            throw new IllegalStateException("unreadable circuit result: " + e.getMessage(), e);
        }
    }

    private IntegerField intField(String label, String id, int value) {
        IntegerField f = new IntegerField(label);
        f.setId(id);
        f.setValue(value);
        f.setStepButtonsVisible(true);
        f.setWidth("9em");
        return f;
    }

    /** The request of the URL's state (and an uploaded dataset). */
    private ObjectNode params() {
        ObjectNode p = JSON.createObjectNode();
        String task = state.get("task", "induction");
        if (task.equals("upload")) {
            if (uploaded == null) throw new IllegalArgumentException("upload a dataset JSON first");
            p.set("dataset", uploaded);
        } else p.put("task", task).put("pairs", state.getInt("pairs") == null ? 32 : state.getInt("pairs"));
        p.put("method", state.get("method", "eap-ig")).put("steps", state.getInt("steps") == null ? 5 : state.getInt("steps"))
                .put("tau", Double.parseDouble(state.get("tau", "0.05"))).put("objective", state.get("objective", "kl"));
        return p;
    }

    /** Starts the request as a job (or shows the stored result at once) with its progress and a Cancel button. */
    private void start() {
        Div results = (Div) body.getChildren().filter(ch -> "results".equals(ch.getId().orElse(""))).findFirst().orElseThrow();
        results.removeAll();
        guarded(() -> {
            ObjectNode params = params();
            CircuitService.Query q = circuits.query(model, params);
            var done = circuits.cached(q);
            if (done.isPresent()) {
                show(results, readJson(done.get()));
                return;
            }
            params.put("model", model);
            String job = jobs.submit(CircuitJobKind.NAME, UiClient.current(), params);
            JobProgressBar bar = new JobProgressBar(jobs, job);
            bar.setId("progress");
            results.add(bar);
            bar.onFinished(info -> {
                if (info.state() == JobInfo.State.DONE && info.resultId() != null)
                    guarded(() -> show(results, readJson(circuits.result(model, info.resultId()))));
                else if (info.state() == JobInfo.State.FAILED) fail(info.error() == null ? "the circuit job failed" : info.error());
            });
        });
    }

    private void show(Div results, JsonNode r) {
        result = r;
        state.set("id", r.get("id").asText());
        results.removeAll();
        render(results);
    }

    // ------------------------------------------------------------------ the result

    private Set<String> listOf(String key) {
        String v = state.get(key);
        return v == null || v.isBlank() ? new LinkedHashSet<>() : new LinkedHashSet<>(Arrays.asList(v.split(",")));
    }

    private void render(Div out) {
        JsonNode edges = result.get("edges");
        int total = edges.size();
        List<JsonNode> ranked = new ArrayList<>();
        edges.forEach(ranked::add);
        ranked.sort(Comparator.comparingDouble((JsonNode e) -> -Math.abs(e.get("score").asDouble())));
        int def = result.has("acdc") ? Math.max(1, result.get("acdc").get("edges_kept").asInt()) : Math.min(30, total);
        Integer topState = state.getInt("top");
        int top = Math.max(1, Math.min(total, topState == null ? def : topState));

        Span summary = new Span(String.format(Locale.ROOT, "%s on %d pairs · clean metric %.3f · corrupted %.3f · %d edges",
                result.get("method").asText(), result.get("dataset").get("prompts").size(), result.get("clean_metric").asDouble(),
                result.get("corrupt_metric").asDouble(), total) + (result.has("acdc")
                ? String.format(Locale.ROOT, " · ACDC (τ %s) keeps %d, faithfulness %.3f", result.get("parameters").get("tau").asText(),
                result.get("acdc").get("edges_kept").asInt(), result.get("acdc").get("faithfulness").asDouble()) : ""));
        summary.setId("summary");

        Input slider = new Input();
        slider.setType("range");
        slider.setId("top-n");
        slider.getElement().setAttribute("min", "1").setAttribute("max", String.valueOf(total));
        slider.setValue(String.valueOf(top));
        slider.setWidth("420px");
        Span shown = new Span();
        shown.setId("shown");
        Div graphBox = new Div();
        graphBox.setWidthFull();
        FaithfulnessChart chart = new FaithfulnessChart();
        chart.setId("faithfulness");
        Div details = new Div();
        details.setId("node-details");

        Runnable draw = () -> {
            int n = Integer.parseInt(slider.getValue());
            List<JsonNode> set = ranked.subList(0, n);
            ObjectNode ev = evaluate(set);
            shown.setText(String.format(Locale.ROOT, "top %d edges by |score| · metric %.3f · faithfulness %.3f", n,
                    ev.get("metric").asDouble(), ev.get("faithfulness").asDouble()));
            graphBox.removeAll();
            CircuitGraph g = graph(set);
            g.setId("circuit-graph");
            g.addNodeClickListener(e -> nodeDetails(details, e.node(), out));
            graphBox.add(g);
            Map<String, JsonNode> curves = new LinkedHashMap<>();
            curves.put("top-n by |score|", result.get("faithfulness"));
            curves.put("greedy from the logits", result.get("faithfulness_greedy"));
            chart.show(curves, n);
        };
        slider.addValueChangeListener(e -> {
            state.set("top", slider.getValue());
            guarded(draw);
        });

        String id = result.get("id").asText();
        Anchor json = new Anchor("/api/v1/models/" + model + "/circuits/" + id, "Export JSON");
        json.getElement().setAttribute("download", "circuit-" + model + ".json");
        json.setId("export-json");
        Button png = new Button("PNG", e -> graphOf(graphBox).export("png", "circuit-" + model + ".png"));
        png.setId("export-png");
        Button svg = new Button("SVG", e -> graphOf(graphBox).export("svg", "circuit-" + model + ".svg"));
        svg.setId("export-svg");
        Button showAll = new Button("Show hidden nodes", e -> { state.set("hidden", null); guarded(draw); });
        Button ungroup = new Button("Clear group", e -> { state.set("group", null); guarded(draw); });
        String meaning = result.has("acdc")
                ? "ACDC score = how much the objective worsened when the edge was tried (red: it mattered)"
                : "Score = mean Σ (a_u(corrupted) − a_u(clean))·∂metric/∂x_v: blue edges lower the metric when corrupted (they carry the behaviour), red raise it";
        Span legend = new Span(meaning + "; width ∝ |score|; into a head, q dashed, k solid, v dotted. Click a node to pin, hide, group or open it.");
        legend.getStyle().set("font-size", "var(--lumo-font-size-s)").set("color", "var(--lumo-secondary-text-color)");
        out.add(summary, row(new Span("Edges shown"), slider, shown), row(json, png, svg, showAll, ungroup), legend, graphBox, details, chart);
        draw.run();
        if (selected != null) nodeDetails(details, selected, out);
    }

    private static CircuitGraph graphOf(Div box) { return (CircuitGraph) box.getComponentAt(0); }

    private ObjectNode evaluate(List<JsonNode> set) {
        ObjectNode p = JSON.createObjectNode();
        p.set("dataset", result.get("dataset"));
        p.put("method", "eap");
        ArrayNode names = JSON.createArrayNode();
        for (JsonNode e : set) names.add(e.get("from").asText() + "->" + e.get("to").asText());
        List<String> list = new ArrayList<>();
        names.forEach(n -> list.add(n.asText()));
        return circuits.evaluate(UiClient.current(), circuits.query(model, p), list);
    }

    /** The graph spec: every node of the model placed by layer, the shown edges, pins, hidden nodes and the group. */
    private CircuitGraph graph(List<JsonNode> set) {
        GptConfig c = config();
        ObjectNode spec = JSON.createObjectNode();
        ArrayNode nodes = spec.putArray("nodes");
        int perLayer = c.attnOnly() ? 1 : 2, top = 1 + perLayer * c.nLayers();
        nodes.addObject().put("id", "input").put("label", "input").put("row", 0).put("col", 0).put("cols", 1).put("kind", "input");
        for (int l = 0; l < c.nLayers(); l++) {
            for (int h = 0; h < c.nHeads(); h++)
                nodes.addObject().put("id", EdgeGraph.head(l, h)).put("label", l + "." + h).put("row", 1 + perLayer * l).put("col", h).put("cols", c.nHeads()).put("kind", "head");
            if (!c.attnOnly())
                nodes.addObject().put("id", EdgeGraph.mlp(l)).put("label", "MLP " + l).put("row", 2 + perLayer * l).put("col", 0).put("cols", 1).put("kind", "mlp");
        }
        nodes.addObject().put("id", "logits").put("label", "logits").put("row", top).put("col", 0).put("cols", 1).put("kind", "logits");
        ArrayNode edges = spec.putArray("edges");
        double max = 0;
        for (JsonNode e : set) {
            String to = e.get("to").asText();
            int lt = to.indexOf('<');
            edges.addObject().put("from", e.get("from").asText()).put("to", EdgeGraph.nodeOfReceiver(to))
                    .put("part", lt < 0 ? "" : to.substring(lt + 1, lt + 2)).put("name", e.get("from").asText() + "->" + to)
                    .put("score", e.get("score").asDouble());
            max = Math.max(max, Math.abs(e.get("score").asDouble()));
        }
        int rowGap = Math.max(45, Math.min(90, 720 / top)); // deep models stay within a screen
        spec.put("maxAbs", max).put("height", 100 + rowGap * top);
        for (String k : new String[]{"pinned", "hidden", "group"}) {
            ArrayNode a = spec.putArray(k);
            listOf(k.equals("pinned") ? "pins" : k).forEach(a::add);
        }
        CircuitGraph g = new CircuitGraph();
        g.setSpec(spec);
        return g;
    }

    /** A clicked node: its name, pin / hide / group toggles and a link to its attention pattern or neurons. */
    private void nodeDetails(Div details, String node, Div out) {
        details.removeAll();
        selected = node;
        Set<String> pins = listOf("pins"), hidden = listOf("hidden"), group = listOf("group");
        Span name = new Span(node);
        name.getStyle().set("font-weight", "bold");
        Button pin = new Button(pins.contains(node) ? "Unpin" : "Pin", e -> toggle("pins", pins, node, out));
        pin.setId("pin-node");
        Button hide = new Button("Hide", e -> { hidden.add(node); selected = null; state.set("hidden", String.join(",", hidden)); rerender(out); });
        hide.setId("hide-node");
        Button grp = new Button(group.contains(node) ? "Remove from group" : "Add to group", e -> toggle("group", group, node, out));
        grp.setId("group-node");
        details.add(row(name, pin, hide, grp));
        if (node.startsWith("a")) {
            int dot = node.indexOf('.');
            String layer = node.substring(1, dot), head = node.substring(dot + 2);
            Map<String, String> q = new LinkedHashMap<>();
            q.put("text", firstPrompt());
            q.put("layer", layer);
            q.put("head", head);
            Anchor a = new Anchor(link(model, "attention", q), "Attention of head " + layer + "." + head + " on the first clean prompt");
            a.setId("open-node");
            details.add(a);
        } else if (node.startsWith("m")) {
            int layer = Integer.parseInt(node.substring(1));
            Anchor a = new Anchor(NeuronLinks.layer(model, layer), "Neurons of MLP " + layer + " (the layer's table; each row opens a neuron's page)");
            a.setId("open-node");
            details.add(a);
        }
    }

    private void toggle(String key, Set<String> set, String node, Div out) {
        if (!set.remove(node)) set.add(node);
        state.set(key, set.isEmpty() ? null : String.join(",", set));
        rerender(out);
    }

    private void rerender(Div out) {
        out.removeAll();
        guarded(() -> render(out));
    }

    /** The first clean prompt as text, without its BOS (the attention view prepends it). */
    private String firstPrompt() {
        JsonNode toks = result.get("dataset").get("prompts").get(0).get("clean_tokens");
        var tok = explorer.tokenizer(model);
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < toks.size(); i++) if (!(i == 0 && toks.get(i).asInt() == tok.bosId())) ids.add(toks.get(i).asInt());
        return tok.decode(ids.stream().mapToInt(Integer::intValue).toArray());
    }
}
