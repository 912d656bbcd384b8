package dev.loupe.ui.patching;

import com.vaadin.flow.component.UI;
import com.vaadin.flow.component.button.Button;
import com.vaadin.flow.component.html.Anchor;
import com.vaadin.flow.component.html.Div;
import com.vaadin.flow.component.html.H3;
import com.vaadin.flow.component.html.Paragraph;
import com.vaadin.flow.component.html.Span;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.vaadin.flow.component.shared.HasValidationProperties;
import com.vaadin.flow.component.select.Select;
import com.vaadin.flow.component.textfield.IntegerField;
import com.vaadin.flow.component.textfield.TextField;
import com.vaadin.flow.component.upload.Upload;
import com.vaadin.flow.router.Route;
import com.vaadin.flow.server.StreamResource;
import com.vaadin.flow.server.streams.UploadHandler;
import dev.loupe.analysis.TokenInfo;
import dev.loupe.circuits.CircuitTasks;
import dev.loupe.model.GptConfig;
import dev.loupe.patching.PatchingPanels;
import dev.loupe.patching.Sweep;
import dev.loupe.service.Explorer;
import dev.loupe.service.JobService;
import dev.loupe.service.PatchingJobKind;
import dev.loupe.service.PatchingService;
import dev.loupe.tokenizer.ListTokenizer;
import dev.loupe.ui.MainLayout;
import dev.loupe.ui.UiClient;
import dev.loupe.ui.jobs.JobProgressBar;
import dev.loupe.ui.charts.Bars;
import dev.loupe.ui.charts.Heatmap;
import dev.loupe.ui.charts.Scatter;
import dev.loupe.ui.explorer.ExplorerPage;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * Activation patching: a clean and a corrupted prompt shown token by token with their differences marked, a
 * metric, a sweep and a direction; the sweep as a heatmap on a diverging scale centred on 0 (colour: the
 * normalised effect, hover: raw and normalised), the attribution estimate beside it with a scatter of estimate vs
 * truth, neuron sweeps as the top neurons, and CSV/JSON/PNG export. The input is one pair of prompts or a dataset
 * of pairs (a built-in task or uploaded JSON, the metric averaged over them); sweeps include the every-block and
 * every-head panels and path patching. A sweep runs as a job: its id is in the URL while it runs (a link reopens
 * its live progress and Cancel), then the result's id.
 */
@Route(value = "model/:model/patching", layout = MainLayout.class)
public class PatchingView extends ExplorerPage {
    static final int TOP_NEURONS = 20;
    static final List<String> METRICS = List.of("logit_diff", "logprob", "prob", "kl", "loss");
    static final List<String> DIRECTIONS = List.of("denoise", "noise", "zero", "mean", "resample");

    static final String ONE_PAIR = "pair";
    static final String UPLOAD = "upload";
    /** Path sweeps whose receivers are typed in the receivers field. */
    static final List<String> PATH_TO_HEADS = List.of("path:q", "path:k", "path:v", "path_mlp:q", "path_mlp:k", "path_mlp:v");
    /** The suffix of a path sweep that freezes the MLPs instead of recomputing them. */
    static final String FROZEN = ":frozen";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final PatchingService patching;
    private final JobService jobs;
    private TextField clean, corrupt, position, tokenA, tokenB, receivers, meanText;
    private IntegerField pairs;
    private Select<String> metric, sweep, direction, dataset;
    private com.vaadin.flow.component.checkbox.Checkbox freezeMlps;
    /** An uploaded dataset of pairs (kept for this page; a result made from it reopens by its id). */
    private JsonNode uploaded;

    public PatchingView(Explorer explorer, PatchingService patching, JobService jobs) {
        super(explorer);
        this.patching = patching;
        this.jobs = jobs;
    }

    @Override protected String route() { return "patching"; }
    @Override protected String title() { return "Activation patching"; }

    @Override
    protected void show() {
        body.removeAll();
        String[] pair = samplePair();
        clean = field("Clean prompt", "clean", state.get("clean", pair[0]));
        corrupt = field("Corrupted prompt (same number of tokens)", "corrupt", state.get("corrupt", pair[1]));
        clean.setWidth("44%");
        corrupt.setWidth("44%");
        List<String> sets = new ArrayList<>(List.of(ONE_PAIR));
        sets.addAll(CircuitTasks.NAMES);
        sets.add(UPLOAD);
        dataset = select("Input", "dataset", sets, state.get("dataset", ONE_PAIR));
        dataset.setItemLabelGenerator(d -> d.equals(ONE_PAIR) ? "one pair (the prompts)" : d.equals(UPLOAD) ? "uploaded JSON" : "task: " + d);
        pairs = new IntegerField("Pairs");
        pairs.setId("pairs");
        pairs.setValue(state.getInt("pairs") == null ? 16 : state.getInt("pairs"));
        pairs.setWidth("7em");
        pairs.setStepButtonsVisible(true);
        UI ui = UI.getCurrent();
        Upload upload = new Upload(UploadHandler.inMemory((meta, bytes) -> {
            try {
                JsonNode data = JSON.readTree(new String(bytes, StandardCharsets.UTF_8));
                ui.access(() -> {
                    uploaded = data;
                    dataset.setValue(UPLOAD);
                });
            } catch (java.io.IOException e) {
                ui.access(() -> {
                    uploaded = null;
                    fail(meta.fileName() + " is not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
                });
            }
        }));
        upload.setId("upload");
        upload.setAcceptedFileTypes("application/json", ".json");
        upload.setMaxFiles(1);
        upload.setDropLabel(new Span("Dataset JSON: {\"prompts\": [{clean, corrupt, answer, wrong}]}"));
        Runnable inputs = () -> {
            boolean one = dataset.getValue().equals(ONE_PAIR);
            clean.setEnabled(one);
            corrupt.setEnabled(one);
            tokenA.setEnabled(one);
            tokenB.setEnabled(one);
            pairs.setVisible(CircuitTasks.NAMES.contains(dataset.getValue()));
            upload.setVisible(dataset.getValue().equals(UPLOAD));
        };
        metric = select("Metric", "metric", METRICS, state.get("metric", "logit_diff"));
        position = field("Position", "position", state.get("position", "-1"));
        position.setWidth("6em");
        tokenA = field("Token A (default: clean top)", "token-a", state.get("a", ""));
        tokenB = field("Token B (default: corrupted top)", "token-b", state.get("b", ""));
        GptConfig c = config();
        List<String> sweeps = new ArrayList<>(Sweep.names(c));
        sweeps.addAll(PatchingPanels.NAMES);
        sweeps.add("path:logits");
        sweeps.addAll(PATH_TO_HEADS.subList(0, 3));
        if (!c.attnOnly()) {
            sweeps.add("path_mlp:logits");
            sweeps.addAll(PATH_TO_HEADS.subList(3, 6));
        }
        if (!c.attnOnly()) for (int l = 0; l < c.nLayers(); l++) {
            sweeps.add("neurons:" + l + ":-1");
            sweeps.add("neurons:" + l);
        }
        String chosen = state.get("sweep", "resid_pre");
        boolean frozen = chosen.startsWith("path") && chosen.endsWith(FROZEN);
        if (frozen) chosen = chosen.substring(0, chosen.length() - FROZEN.length());
        String recv = "";
        for (String p : PATH_TO_HEADS)
            if (chosen.startsWith(p + ":")) {
                recv = chosen.substring(p.length() + 1);
                chosen = p;
            }
        if (!sweeps.contains(chosen)) sweeps.add(chosen); // e.g. neurons:2:5 from a link; the service checks it
        sweep = select("Sweep", "sweep", sweeps, chosen);
        receivers = field("Receiver heads (L.H, …)", "receivers", recv.isEmpty() ? defaultReceivers(c) : recv);
        receivers.setWidth("12em");
        freezeMlps = new com.vaadin.flow.component.checkbox.Checkbox("Freeze MLPs", frozen);
        freezeMlps.setId("freeze-mlps");
        Runnable pathField = () -> {
            receivers.setVisible(PATH_TO_HEADS.contains(sweep.getValue()));
            freezeMlps.setVisible(!c.attnOnly() && sweep.getValue().startsWith("path"));
        };
        sweep.addValueChangeListener(e -> pathField.run());
        pathField.run();
        direction = select("Direction", "direction", DIRECTIONS, state.get("dir", "denoise"));
        meanText = field("Mean over text (empty: over the clean prompts)", "mean-text", state.get("mean", ""));
        meanText.setWidth("22em");
        Runnable meanField = () -> meanText.setVisible(direction.getValue().equals("mean"));
        direction.addValueChangeListener(e -> meanField.run());
        meanField.run();
        dataset.addValueChangeListener(e -> inputs.run());
        inputs.run();
        body.add(row(dataset, pairs, clean, corrupt, runButton(this::run)), upload, row(metric, position, tokenA, tokenB, sweep, receivers, freezeMlps, direction, meanText));
        showResults(this::render);
    }

    private static String defaultReceivers(GptConfig c) {
        return (c.nLayers() - 1) + ".0";
    }

    private String sweepName() {
        String name = PATH_TO_HEADS.contains(sweep.getValue()) ? sweep.getValue() + ":" + receivers.getValue().replace(" ", "") : sweep.getValue();
        return freezeMlps.isVisible() && freezeMlps.getValue() ? name + FROZEN : name;
    }

    private void run() {
        state.set("dataset", dataset.getValue(), "pairs", CircuitTasks.NAMES.contains(dataset.getValue()) ? pairs.getValue() : null,
                "clean", clean.getValue(), "corrupt", corrupt.getValue(), "metric", metric.getValue(), "position", position.getValue().trim(),
                "a", tokenA.getValue(), "b", tokenB.getValue(), "sweep", sweepName(), "dir", direction.getValue(), "mean", meanTextValue(), "job", null, "id", null);
        rerun();
    }

    /** The mean ablation's text, or null: the mean over the clean prompts (or not a mean ablation). */
    private String meanTextValue() {
        return direction.getValue().equals("mean") && !meanText.getValue().isEmpty() ? meanText.getValue() : null;
    }

    /** The request of the fields: one pair of prompts, a built-in task or the uploaded dataset. */
    private PatchingService.Request request() {
        Integer pos;
        try {
            pos = Integer.parseInt(position.getValue().trim());
        } catch (NumberFormatException e) {
            position.setErrorMessage("a whole number (negative counts from the end)");
            position.setInvalid(true);
            throw new IllegalArgumentException("the metric position '" + position.getValue() + "' is not a whole number");
        }
        String set = dataset.getValue();
        if (set.equals(ONE_PAIR))
            return new PatchingService.Request(clean.getValue(), corrupt.getValue(), null, null, null, metric.getValue(), pos,
                    tokenA.getValue(), tokenB.getValue(), sweepName(), direction.getValue(), true, null, null, null, null, meanTextValue());
        if (set.equals(UPLOAD) && uploaded == null) throw new IllegalArgumentException("upload a dataset JSON first");
        return new PatchingService.Request(null, null, null, null, null, metric.getValue(), pos, null, null, sweepName(), direction.getValue(), true,
                set.equals(UPLOAD) ? uploaded : null, set.equals(UPLOAD) ? null : set, set.equals(UPLOAD) ? null : pairs.getValue(), null, meanTextValue());
    }

    /**
     * The result of the URL: a stored one by its id, a running job by its id (live progress, Cancel), or the fields'
     * request: answered from the cache at once, else started as a job whose id goes into the URL.
     */
    private void render(Div out) {
        for (TextField f : List.of(clean, corrupt, position, tokenA, tokenB, receivers, meanText)) f.setInvalid(false);
        if (state.get("id") != null) {
            draw(out, stored(state.get("id")), state.get("id"));
            return;
        }
        if (state.get("job") != null) {
            follow(out, state.get("job"));
            return;
        }
        PatchingService.Request req = request();
        PatchingService.Prepared prepared;
        try {
            prepared = patching.prepare(model, req);
        } catch (RuntimeException e) {
            markField(e.getMessage());
            throw e;
        }
        String id = patching.id(prepared);
        if (patching.find(id).isPresent()) {
            state.set("id", id);
            draw(out, stored(id), id);
            return;
        }
        ObjectNode params = JSON.valueToTree(req);
        params.put("model", model);
        String job = jobs.submit(PatchingJobKind.NAME, UiClient.current(), params);
        state.set("job", job);
        follow(out, job);
    }

    /** A job's live progress with Cancel; when it is done its result is drawn and its id replaces the job's in the URL. */
    private void follow(Div out, String job) {
        JobProgressBar bar = new JobProgressBar(jobs, job);
        bar.setId("patching-progress");
        out.add(bar);
        bar.onFinished(info -> {
            switch (info.state()) {
                case DONE -> guarded(() -> {
                    out.remove(bar);
                    state.set("job", null, "id", info.resultId());
                    draw(out, stored(info.resultId()), info.resultId());
                });
                case CANCELLED -> fail("Cancelled: nothing was kept.");
                default -> fail(info.error() == null ? "the patching job failed" : info.error());
            }
        });
    }

    private PatchingService.Result stored(String id) {
        byte[] json = patching.find(id).orElseThrow(() -> new IllegalArgumentException("no stored patching result " + id + " (it may have been evicted): run it again"));
        try {
            return JSON.readValue(json, PatchingService.Result.class);
        } catch (java.io.IOException e) {
            throw new IllegalStateException("unreadable patching result " + id + ": " + e.getMessage(), e);
        }
    }

    /** Marks the field a message is about, so the problem shows beside it. */
    private void markField(String message) {
        String m = message == null ? "" : message;
        List<HasValidationProperties> fields = m.contains("mean text") ? List.of(meanText) : m.contains("token A") ? List.of(tokenA) : m.contains("token B") ? List.of(tokenB)
                : m.contains("receiver") ? List.of(receivers)
                : m.startsWith("pair ") || m.contains("dataset") || m.contains("(pair ") ? List.of(dataset)
                : m.contains("patched runs") ? List.of(sweep)
                : m.contains("position") ? List.of(position)
                : m.contains("corrupted prompt") && !m.contains("clean prompt") ? List.of(corrupt)
                : m.contains("clean prompt") || m.contains("prompt") || m.contains("tokens") ? List.of(clean, corrupt)
                : m.contains("sweep") ? List.of(sweep) : List.of();
        for (HasValidationProperties f : fields) {
            f.setErrorMessage(m);
            f.setInvalid(true);
        }
    }

    /** One heatmap's share of a result: the whole result, or one component of a panel. */
    record Part(String name, List<String> axes, int[] shape, int offset, int size) {}

    static List<Part> parts(PatchingService.Result r) {
        int[] s = r.shape();
        if (r.components() == null) {
            int n = 1;
            for (int d : s) n *= d;
            return List.of(new Part(r.sweep(), r.axes(), s, 0, n));
        }
        int[] one = java.util.Arrays.copyOfRange(s, 1, s.length);
        int n = 1;
        for (int d : one) n *= d;
        List<Part> out = new ArrayList<>();
        for (int k = 0; k < r.components().size(); k++) out.add(new Part(r.components().get(k), r.axes().subList(1, r.axes().size()), one, k * n, n));
        return out;
    }

    private void draw(Div out, PatchingService.Result r, String key) {
        out.add(tokens(r));
        String metricName = describe(r);
        Paragraph summary = new Paragraph(String.format(Locale.ROOT, "%s — clean %s, corrupted %s · %s%s, %d patched runs in %d ms", metricName,
                fmt(r.cleanMetric()), fmt(r.corruptMetric()),
                r.direction() + (r.meanTextTokens() == null ? "" : " over a text of " + r.meanTextTokens() + " tokens"), r.pairs() > 1 || r.dataset() != null
                        ? String.format(Locale.ROOT, " · mean over %d pairs (%s)", r.pairs(), r.dataset()) : "", r.rows(), r.millis()));
        summary.setId("patching-summary");
        summary.getElement().setAttribute("data-key", key);
        out.add(summary);

        double[] raw = flat(r.values()), norm = flat(r.normalised()), attr = r.attribution() == null ? null : flat(r.attribution());
        double base = r.direction().equals("denoise") ? r.corruptMetric() : r.cleanMetric();
        double denom = r.cleanMetric() - r.corruptMetric();
        double[] estNorm = attr == null ? null : new double[attr.length];
        if (attr != null) for (int i = 0; i < attr.length; i++) estNorm[i] = Math.abs(denom) < 1e-12 ? 0 : (base + attr[i] - r.corruptMetric()) / denom;
        List<String> labels = cellLabels(r);
        if (r.sweep().startsWith("path")) {
            boolean frozen = r.sweep().endsWith(FROZEN);
            String[] p = (frozen ? r.sweep().substring(0, r.sweep().length() - FROZEN.length()) : r.sweep()).split(":");
            String baseRun = r.direction().equals("denoise") ? "corrupted" : "clean";
            Paragraph about = new Paragraph("Path patching from each sender " + (p[0].equals("path_mlp") ? "MLP" : "head") + " "
                    + (p[1].equals("logits") ? "straight to the logits" : "to the " + p[1] + " input of heads " + p[2].replace(",", ", "))
                    + ", every " + (p[0].equals("path_mlp") ? "head's" : "other head's") + " output frozen to the " + baseRun + " run ("
                    + (frozen ? "every other MLP's output frozen too" : "MLPs recomputed") + "). Senders in or after the last receiver's layer have no path (0).");
            about.setId("patching-path-about");
            out.add(about);
        }

        Heatmap main = null;
        List<Part> parts = parts(r);
        if (r.axes().get(r.axes().size() - 1).equals("neuron")) {
            drawNeurons(out, r, raw, norm, attr, labels);
        } else {
            for (Part part : parts) {
                String suffix = parts.size() > 1 ? "-" + part.name() : "";
                Heatmap h = heatmap("patching-heatmap" + suffix, "Patched", part, r, norm, raw, norm, attr, estNorm);
                if (main == null) main = h;
                Div pairDiv = new Div(h);
                pairDiv.getStyle().set("display", "flex").set("gap", "var(--lumo-space-m)").set("flex-wrap", "wrap");
                h.setWidth("48%");
                h.getStyle().set("min-width", "420px").set("flex", "1");
                if (attr != null) {
                    Heatmap est = heatmap("patching-attribution" + suffix, "Attribution estimate", part, r, estNorm, raw, norm, attr, estNorm);
                    est.setWidth("48%");
                    est.getStyle().set("min-width", "420px").set("flex", "1");
                    pairDiv.add(est);
                }
                out.add(pairDiv);
            }
        }
        if (attr != null) {
            double[] change = new double[raw.length];
            for (int i = 0; i < raw.length; i++) change[i] = raw[i] - base;
            Scatter sc = new Scatter();
            sc.setId("patching-scatter");
            sc.setWidth("560px");
            sc.show("Attribution estimate vs patched change of the metric", attr, change, labels, "estimate", "patched − unpatched", 360);
            Paragraph corr = new Paragraph(r.attributionCorrelation() == null ? "Correlation: undefined (no variation)"
                    : String.format(Locale.ROOT, "Correlation of estimate and truth: %.3f over %d indices", r.attributionCorrelation(), raw.length));
            corr.setId("patching-correlation");
            out.add(new H3("Attribution patching"), corr, sc);
        }
        out.add(exports(r, key, labels, raw, norm, attr, main));
    }

    private Div tokens(PatchingService.Result r) {
        Div box = new Div();
        box.setId("patching-tokens");
        if (r.pairs() > 1) box.add(label("first of " + r.pairs() + " pairs:"));
        for (int which = 0; which < 2; which++) {
            List<TokenInfo> mine = which == 0 ? r.cleanTokens() : r.corruptTokens(), other = which == 0 ? r.corruptTokens() : r.cleanTokens();
            Div line = new Div(label(which == 0 ? "clean " : "corrupted "));
            line.getStyle().set("font-family", "monospace").set("margin", "2px 0");
            for (int p = 0; p < mine.size(); p++) {
                Span t = new Span(mine.get(p).token());
                t.getElement().setAttribute("title", "position " + p + ", id " + mine.get(p).id());
                t.getStyle().set("padding", "1px 3px").set("margin-right", "2px").set("border-radius", "3px")
                        .set("background", "var(--lumo-contrast-5pct)");
                if (mine.get(p).id() != other.get(p).id()) {
                    t.addClassName("token-diff");
                    t.getStyle().set("background", "#ffd180").set("font-weight", "bold");
                }
                line.add(t);
            }
            box.add(line);
        }
        return box;
    }

    /** Rows and columns of a heatmap for a part's shape: [layer, pos], [layer, head], or [layer·head, pos]. */
    private Heatmap heatmap(String id, String title, Part part, PatchingService.Result r, double[] colour, double[] raw, double[] norm, double[] attr,
                            double[] estNorm) {
        int[] s = part.shape();
        boolean byPos = s.length == 3, oneColumn = s.length == 1; // [layer] of MLP senders: one column
        int rows = byPos ? s[0] * s[2] : s[0], cols = oneColumn ? 1 : s[1];
        boolean posCols = !oneColumn && part.axes().get(1).equals("pos");
        List<String> x = oneColumn ? List.of("MLP") : IntStream.range(0, cols).mapToObj(i -> posCols ? i + " " + r.cleanTokens().get(i).token() : "H" + i).toList();
        List<String> y = IntStream.range(0, rows).mapToObj(i -> byPos ? "L" + i / s[2] + " H" + i % s[2] : "L" + i).toList();
        double[][] v = new double[rows][cols];
        String[][] tips = new String[rows][cols];
        double maxAbs = 1e-6;
        for (int i = 0; i < part.size(); i++) maxAbs = Math.max(maxAbs, Math.abs(colour[part.offset() + i]));
        for (int row = 0; row < rows; row++)
            for (int col = 0; col < cols; col++) {
                int i = part.offset() + (byPos ? (row / s[2] * s[1] + col) * s[2] + row % s[2] : row * cols + col);
                v[row][col] = colour[i];
                tips[row][col] = "raw " + fmt(raw[i]) + "\nnormalised " + fmt(norm[i]) + (attr == null ? "" : "\nattribution " + fmt(attr[i])
                        + " (normalised " + fmt(estNorm[i]) + ")");
            }
        Heatmap h = new Heatmap();
        h.setId(id);
        h.show(new Heatmap.Spec().title(title + " · " + part.name() + " (colour: normalised)").xLabels(x).yLabels(y)
                .axisNames(posCols ? "position" : oneColumn ? "sender" : "head", byPos ? "layer, head" : "layer").values(v).tips(tips)
                .range(-maxAbs, maxAbs).diverging().legend().height(Math.max(240, 130 + Math.min(22, 400 / Math.max(1, rows) + 8) * rows))
                .xRotate(posCols ? 45 : 0).grid(byPos ? 70 : 50, posCols ? 90 : 50).nameGaps(posCols ? 70 : 28, byPos ? 55 : 35));
        if (part.axes().contains("head")) h.addCellClickListener(e -> {
            int layer = byPos ? e.y() / s[2] : e.y(), head = byPos ? e.y() % s[2] : e.x();
            Map<String, String> q = new java.util.LinkedHashMap<>();
            q.put("text", r.pairs() > 1 || r.dataset() != null ? detokenize(r.cleanTokens()) : state.get("clean", clean.getValue()));
            q.put("layer", "" + layer);
            q.put("head", "" + head);
            UI.getCurrent().getPage().setLocation(link(model, "attention", q));
        });
        return h;
    }

    /** A pair's text from its tokens (the first pair of a dataset, for the attention view), without the BOS token. */
    private String detokenize(List<TokenInfo> tokens) {
        var tok = explorer.tokenizer(model);
        int[] ids = tokens.stream().mapToInt(TokenInfo::id).filter(t -> t != tok.bosId()).toArray();
        return tok.decode(ids);
    }

    private void drawNeurons(Div out, PatchingService.Result r, double[] raw, double[] norm, double[] attr, List<String> labels) {
        int layer = Integer.parseInt(r.sweep().split(":")[1]);
        int dMlp = r.shape()[r.shape().length - 1];
        List<Integer> order = IntStream.range(0, raw.length).boxed()
                .sorted(Comparator.comparingDouble((Integer i) -> -Math.abs(norm[i] == 0 ? raw[i] - r.corruptMetric() : norm[i]))).limit(TOP_NEURONS).toList();
        Bars bars = new Bars();
        bars.setId("patching-neurons");
        bars.show("Top " + order.size() + " of " + raw.length + " neurons of layer " + layer + " by |normalised effect|",
                order.stream().map(labels::get).toList(), order.stream().mapToDouble(i -> norm[i]).toArray(), "normalised effect", true);
        out.add(bars);
        if (attr != null) {
            Bars est = new Bars();
            est.setId("patching-neurons-attribution");
            est.show("Attribution estimate of the same neurons", order.stream().map(labels::get).toList(),
                    order.stream().mapToDouble(i -> attr[i]).toArray(), "estimated change", true);
            out.add(est);
        }
        Div links = new Div(label("Neuron pages: "));
        links.setId("patching-neuron-links");
        for (int i : order) {
            Anchor a = new Anchor("/model/" + model + "/neurons/" + layer + "/" + i % dMlp, labels.get(i));
            a.getStyle().set("margin-right", "0.8em");
            links.add(a);
        }
        out.add(links);
    }

    private Div exports(PatchingService.Result r, String key, List<String> labels, double[] raw, double[] norm, double[] attr, Heatmap main) {
        Anchor json = new Anchor("/api/v1/models/" + model + "/patching/" + key, "JSON");
        json.setId("export-json");
        json.setRouterIgnore(true);
        json.getElement().setAttribute("download", "patching-" + r.sweep().replace(':', '-') + ".json");
        StringBuilder csv = new StringBuilder(String.join(",", r.axes()) + ",raw,normalised" + (attr == null ? "" : ",attribution") + "\n");
        int[] s = r.shape();
        for (int i = 0; i < raw.length; i++) {
            int rest = i;
            String[] idx = new String[s.length];
            for (int d = s.length - 1; d >= 0; d--) {
                idx[d] = "" + rest % s[d];
                rest /= s[d];
            }
            csv.append(String.join(",", idx)).append(',').append(raw[i]).append(',').append(norm[i]);
            if (attr != null) csv.append(',').append(attr[i]);
            csv.append('\n');
        }
        byte[] bytes = csv.toString().getBytes(StandardCharsets.UTF_8);
        Anchor csvLink = new Anchor(new StreamResource("patching-" + r.sweep().replace(':', '-') + ".csv", () -> new ByteArrayInputStream(bytes)), "CSV");
        csvLink.setId("export-csv");
        csvLink.getElement().setAttribute("download", true);
        Div box = new Div(label("Export: "), json, new Span(" · "), csvLink);
        box.setId("patching-export");
        if (main != null) {
            Button png = new Button("PNG", e -> main.getElement().callJsFunction("downloadPng", "patching-" + r.sweep() + ".png"));
            png.setId("export-png");
            box.add(new Span(" · "), png);
        }
        return box;
    }

    /** Each index's name, in the result's row-major order. */
    static List<String> cellLabels(PatchingService.Result r) {
        int[] s = r.shape();
        List<String> axes = r.axes();
        List<String> out = new ArrayList<>();
        long n = 1;
        for (int d : s) n *= d;
        for (int i = 0; i < n; i++) {
            int rest = i;
            String[] parts = new String[s.length];
            for (int d = s.length - 1; d >= 0; d--) {
                int v = rest % s[d];
                rest /= s[d];
                parts[d] = switch (axes.get(d)) {
                    case "layer" -> "L" + v;
                    case "head" -> "H" + v;
                    case "pos" -> "pos " + v + " " + r.cleanTokens().get(v).token();
                    default -> "N" + v;
                };
            }
            out.add(String.join(" ", parts));
        }
        return out;
    }

    private static String describe(PatchingService.Result r) {
        String[] p = r.metric().split(":");
        // a dataset's pairs have their own answer and wrong tokens
        String a = r.answerA() == null ? "answer" : r.answerA().token(), b = r.answerB() == null ? "wrong" : r.answerB().token();
        return switch (p[0]) {
            case "logit_diff" -> "logit(" + a + ") − logit(" + b + ") at position " + p[1];
            case "logprob" -> "log p(" + a + ") at position " + p[1];
            case "prob" -> "p(" + a + ") at position " + p[1];
            case "kl" -> "KL(clean ‖ patched) at position " + p[1];
            default -> "loss";
        };
    }

    static double[] flat(Object nested) {
        List<Double> out = new ArrayList<>();
        flatten(nested, out);
        return out.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static void flatten(Object o, List<Double> out) {
        if (o instanceof List<?> l) for (Object x : l) flatten(x, out);
        else if (o instanceof Number n) out.add(n.doubleValue());
    }

    private String[] samplePair() {
        if (explorer.tokenizer(model) instanceof ListTokenizer) {
            String[] w = samplePrompt().split(" ");
            String swapped = w.length > 2 ? samplePrompt().replaceFirst("\\b" + w[1] + "\\b", w[2]) : samplePrompt();
            return new String[]{samplePrompt(), swapped};
        }
        return new String[]{"When Mary and John went to the store, John gave a drink to", "When Mary and John went to the store, Mary gave a drink to"};
    }

    private static TextField field(String label, String id, String value) {
        TextField t = new TextField(label);
        t.setId(id);
        t.setValue(value == null ? "" : value);
        return t;
    }

    private static Select<String> select(String label, String id, List<String> items, String value) {
        Select<String> s = new Select<>();
        s.setLabel(label);
        s.setId(id);
        s.setItems(items);
        s.setValue(items.contains(value) ? value : items.get(0));
        return s;
    }

    private static String fmt(double v) {
        return String.format(Locale.ROOT, Math.abs(v) >= 100 ? "%.1f" : Math.abs(v) >= 0.01 || v == 0 ? "%.4f" : "%.3g", v);
    }
}
