package dev.loupe.ui.patching;

import com.vaadin.flow.component.UI;
import com.vaadin.flow.component.button.Button;
import com.vaadin.flow.component.html.Anchor;
import com.vaadin.flow.component.html.Div;
import com.vaadin.flow.component.html.H3;
import com.vaadin.flow.component.html.Paragraph;
import com.vaadin.flow.component.html.Span;
import com.vaadin.flow.component.progressbar.ProgressBar;
import com.vaadin.flow.component.select.Select;
import com.vaadin.flow.component.textfield.TextField;
import com.vaadin.flow.router.Route;
import com.vaadin.flow.server.StreamResource;
import dev.loupe.analysis.TokenInfo;
import dev.loupe.jobs.Cancelled;
import dev.loupe.jobs.Progress;
import dev.loupe.model.GptConfig;
import dev.loupe.patching.Sweep;
import dev.loupe.service.Explorer;
import dev.loupe.service.PatchingService;
import dev.loupe.tokenizer.ListTokenizer;
import dev.loupe.ui.MainLayout;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.IntStream;

/**
 * Activation patching: a clean and a corrupted prompt shown token by token with their differences marked, a
 * metric, a sweep and a direction; the sweep as a heatmap on a diverging scale centred on 0 (colour: the
 * normalised effect, hover: raw and normalised), the attribution estimate beside it with a scatter of estimate vs
 * truth, neuron sweeps as the top neurons, and CSV/JSON/PNG export. The sweep runs in the background with a
 * progress bar and Cancel.
 */
@Route(value = "model/:model/patching", layout = MainLayout.class)
public class PatchingView extends ExplorerPage {
    static final int TOP_NEURONS = 20;
    static final List<String> METRICS = List.of("logit_diff", "logprob", "prob", "kl", "loss");
    static final List<String> DIRECTIONS = List.of("denoise", "noise", "zero", "mean", "resample");

    private final PatchingService patching;
    private TextField clean, corrupt, position, tokenA, tokenB;
    private Select<String> metric, sweep, direction;

    public PatchingView(Explorer explorer, PatchingService patching) {
        super(explorer);
        this.patching = patching;
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
        metric = select("Metric", "metric", METRICS, state.get("metric", "logit_diff"));
        position = field("Position", "position", state.get("pos", "-1"));
        position.setWidth("6em");
        tokenA = field("Token A (default: clean top)", "token-a", state.get("a", ""));
        tokenB = field("Token B (default: corrupted top)", "token-b", state.get("b", ""));
        GptConfig c = config();
        List<String> sweeps = new ArrayList<>(Sweep.names(c));
        if (!c.attnOnly()) for (int l = 0; l < c.nLayers(); l++) {
            sweeps.add("neurons:" + l + ":-1");
            sweeps.add("neurons:" + l);
        }
        String chosen = state.get("sweep", "resid_pre");
        if (!sweeps.contains(chosen)) sweeps.add(chosen); // e.g. neurons:2:5 from a link; the service checks it
        sweep = select("Sweep", "sweep", sweeps, chosen);
        direction = select("Direction", "direction", DIRECTIONS, state.get("dir", "denoise"));
        body.add(row(clean, corrupt, runButton(this::run)), row(metric, position, tokenA, tokenB, sweep, direction));
        showResults(this::render);
    }

    private void run() {
        state.set("clean", clean.getValue(), "corrupt", corrupt.getValue(), "metric", metric.getValue(), "pos", position.getValue().trim(),
                "a", tokenA.getValue(), "b", tokenB.getValue(), "sweep", sweep.getValue(), "dir", direction.getValue());
        show();
    }

    private void render(Div out) {
        for (TextField f : List.of(clean, corrupt, position, tokenA, tokenB)) f.setInvalid(false);
        Integer pos;
        try {
            pos = Integer.parseInt(position.getValue().trim());
        } catch (NumberFormatException e) {
            position.setErrorMessage("a whole number (negative counts from the end)");
            position.setInvalid(true);
            throw new IllegalArgumentException("the metric position '" + position.getValue() + "' is not a whole number");
        }
        PatchingService.Request req = new PatchingService.Request(clean.getValue(), corrupt.getValue(), null, null, null, metric.getValue(), pos,
                tokenA.getValue(), tokenB.getValue(), sweep.getValue(), direction.getValue(), true);
        PatchingService.Prepared prepared;
        try {
            prepared = patching.prepare(model, req);
        } catch (RuntimeException e) {
            markField(e.getMessage());
            throw e;
        }
        ProgressBar bar = new ProgressBar(0, 1);
        bar.setId("patching-progress");
        Span status = label("patching " + prepared.rows() + " runs…");
        AtomicBoolean cancelled = new AtomicBoolean();
        Button cancel = new Button("Cancel", e -> cancelled.set(true));
        cancel.setId("patching-cancel");
        Div running = new Div(status, bar, cancel);
        running.setId("patching-running");
        out.add(running);
        UI ui = UI.getCurrent();
        long[] lastReport = {0};
        Progress progress = new Progress() {
            @Override public void report(double fraction, String message) {
                long now = System.nanoTime();
                if (now - lastReport[0] < 150_000_000L && fraction < 1) return;
                lastReport[0] = now;
                ui.access(() -> {
                    bar.setValue(fraction);
                    status.setText(message);
                });
            }
            @Override public boolean cancelled() { return cancelled.get(); }
        };
        CompletableFuture.supplyAsync(() -> patching.answer(prepared, progress)).whenComplete((answer, err) -> ui.access(() -> {
            out.remove(running);
            Throwable cause = err instanceof java.util.concurrent.CompletionException && err.getCause() != null ? err.getCause() : err;
            if (cause instanceof Cancelled) fail("Cancelled: nothing was kept.");
            else if (cause != null) guarded(() -> { throw cause instanceof RuntimeException r ? r : new IllegalStateException(cause); });
            else guarded(() -> draw(out, answer));
        }));
    }

    /** Marks the field a message is about, so the problem shows beside it. */
    private void markField(String message) {
        String m = message == null ? "" : message;
        List<TextField> fields = m.contains("token A") ? List.of(tokenA) : m.contains("token B") ? List.of(tokenB)
                : m.contains("position") ? List.of(position)
                : m.contains("corrupted prompt") && !m.contains("clean prompt") ? List.of(corrupt)
                : m.contains("clean prompt") || m.contains("prompt") || m.contains("tokens") ? List.of(clean, corrupt) : List.of();
        for (TextField f : fields) {
            f.setErrorMessage(m);
            f.setInvalid(true);
        }
    }

    private void draw(Div out, Explorer.Answer<PatchingService.Result> answer) {
        PatchingService.Result r = answer.result();
        String key = answer.key();
        out.add(tokens(r));
        String metricName = describe(r);
        Paragraph summary = new Paragraph(String.format(Locale.ROOT, "%s — clean %s, corrupted %s · %s, %d patched runs in %d ms%s", metricName,
                fmt(r.cleanMetric()), fmt(r.corruptMetric()), r.direction(), r.rows(), r.millis(), answer.cached() ? " (from the cache)" : ""));
        summary.setId("patching-summary");
        summary.getElement().setAttribute("data-key", key);
        out.add(summary);

        double[] raw = flat(r.values()), norm = flat(r.normalised()), attr = r.attribution() == null ? null : flat(r.attribution());
        double base = r.direction().equals("denoise") ? r.corruptMetric() : r.cleanMetric();
        double denom = r.cleanMetric() - r.corruptMetric();
        double[] estNorm = attr == null ? null : new double[attr.length];
        if (attr != null) for (int i = 0; i < attr.length; i++) estNorm[i] = Math.abs(denom) < 1e-12 ? 0 : (base + attr[i] - r.corruptMetric()) / denom;
        List<String> labels = cellLabels(r);

        Heatmap main = null;
        if (r.axes().get(r.axes().size() - 1).equals("neuron")) {
            drawNeurons(out, r, raw, norm, attr, labels);
        } else {
            main = heatmap("patching-heatmap", "Patched", r, norm, raw, norm, attr, estNorm);
            Div pairDiv = new Div(main);
            pairDiv.getStyle().set("display", "flex").set("gap", "var(--lumo-space-m)").set("flex-wrap", "wrap");
            main.setWidth("48%");
            main.getStyle().set("min-width", "420px").set("flex", "1");
            if (attr != null) {
                Heatmap est = heatmap("patching-attribution", "Attribution estimate", r, estNorm, raw, norm, attr, estNorm);
                est.setWidth("48%");
                est.getStyle().set("min-width", "420px").set("flex", "1");
                pairDiv.add(est);
            }
            out.add(pairDiv);
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

    /** Rows and columns of a heatmap for the result's shape: [layer, pos], [layer, head], or [layer·head, pos]. */
    private Heatmap heatmap(String id, String title, PatchingService.Result r, double[] colour, double[] raw, double[] norm, double[] attr, double[] estNorm) {
        int[] s = r.shape();
        boolean byPos = s.length == 3;
        int rows = byPos ? s[0] * s[2] : s[0], cols = byPos ? s[1] : s[1];
        boolean posCols = r.axes().get(1).equals("pos");
        List<String> x = IntStream.range(0, cols).mapToObj(i -> posCols ? i + " " + r.cleanTokens().get(i).token() : "H" + i).toList();
        List<String> y = IntStream.range(0, rows).mapToObj(i -> byPos ? "L" + i / s[2] + " H" + i % s[2] : "L" + i).toList();
        double[][] v = new double[rows][cols];
        String[][] tips = new String[rows][cols];
        double maxAbs = 1e-6;
        for (double d : colour) maxAbs = Math.max(maxAbs, Math.abs(d));
        for (int row = 0; row < rows; row++)
            for (int col = 0; col < cols; col++) {
                int i = byPos ? (row / s[2] * s[1] + col) * s[2] + row % s[2] : row * cols + col;
                v[row][col] = colour[i];
                tips[row][col] = "raw " + fmt(raw[i]) + "\nnormalised " + fmt(norm[i]) + (attr == null ? "" : "\nattribution " + fmt(attr[i])
                        + " (normalised " + fmt(estNorm[i]) + ")");
            }
        Heatmap h = new Heatmap();
        h.setId(id);
        h.show(new Heatmap.Spec().title(title + " · " + r.sweep() + " (colour: normalised)").xLabels(x).yLabels(y)
                .axisNames(posCols ? "position" : "head", byPos ? "layer, head" : "layer").values(v).tips(tips)
                .range(-maxAbs, maxAbs).diverging().legend().height(Math.max(240, 130 + Math.min(22, 400 / Math.max(1, rows) + 8) * rows))
                .xRotate(posCols ? 45 : 0).grid(byPos ? 70 : 50, posCols ? 90 : 50).nameGaps(posCols ? 70 : 28, byPos ? 55 : 35));
        boolean heads = r.axes().contains("head");
        if (heads) h.addCellClickListener(e -> {
            int layer = byPos ? e.y() / s[2] : e.y(), head = byPos ? e.y() % s[2] : e.x();
            Map<String, String> q = new java.util.LinkedHashMap<>();
            q.put("text", state.get("clean", clean.getValue()));
            q.put("layer", "" + layer);
            q.put("head", "" + head);
            UI.getCurrent().getPage().setLocation(link(model, "attention", q));
        });
        return h;
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
        String a = r.answerA() == null ? "" : r.answerA().token(), b = r.answerB() == null ? "" : r.answerB().token();
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
