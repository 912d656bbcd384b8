package dev.loupe.ui.explorer;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.vaadin.flow.component.checkbox.Checkbox;
import com.vaadin.flow.component.grid.Grid;
import com.vaadin.flow.component.grid.GridVariant;
import com.vaadin.flow.component.html.Anchor;
import com.vaadin.flow.component.html.Div;
import com.vaadin.flow.component.html.H3;
import com.vaadin.flow.component.html.Paragraph;
import com.vaadin.flow.component.html.Span;
import com.vaadin.flow.component.textfield.IntegerField;
import com.vaadin.flow.component.textfield.NumberField;
import com.vaadin.flow.component.textfield.TextArea;
import com.vaadin.flow.component.textfield.TextField;
import com.vaadin.flow.router.Route;
import dev.loupe.generation.Generation;
import dev.loupe.jobs.JobInfo;
import dev.loupe.service.Explorer;
import dev.loupe.service.GenerationJobKind;
import dev.loupe.service.JobService;
import dev.loupe.jobs.Progress;
import dev.loupe.ui.MainLayout;
import dev.loupe.ui.UiClient;
import dev.loupe.ui.charts.Series;
import dev.loupe.ui.jobs.JobProgressBar;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Generation: the prompt continued greedily or by sampling (temperature, top-k, seed: one seed, one continuation),
 * the new tokens marked in the text with their probabilities, and links that open every view on the result.
 */
@Route(value = "model/:model/generate", layout = MainLayout.class)
public class GenerateView extends ExplorerPage {
    /** The views a result opens in, with the link's label. */
    private static final String[][] OPEN = {{"prompt", "Prompt"}, {"lens", "Logit lens"}, {"attention", "Attention"},
            {"heads", "All heads"}, {"dla", "Direct logit attribution"}};

    private TextArea prompt;
    private IntegerField maxNew, topK;
    private NumberField temperature;
    private TextField seed;
    private Checkbox stopAtEos;

    private final JobService jobs;
    private final GenerationJobKind generations;

    public GenerateView(Explorer explorer, JobService jobs, GenerationJobKind generations) {
        super(explorer);
        this.jobs = jobs;
        this.generations = generations;
    }

    @Override protected String route() { return "generate"; }
    @Override protected String title() { return "Generate"; }

    @Override
    protected void show() {
        prompt = startWithPrompt(this::run);
        maxNew = new IntegerField("New tokens at most");
        maxNew.setId("max-new");
        maxNew.setMin(1);
        maxNew.setMax(Math.min(Explorer.GENERATE_MAX, config().nCtx() - 1));
        maxNew.setStepButtonsVisible(true);
        maxNew.setValue(state.getInt("maxNew") == null ? Explorer.GENERATE_DEFAULT : state.getInt("maxNew"));
        maxNew.setHelperText("bounded by the context (" + config().nCtx() + ")");
        temperature = new NumberField("Temperature");
        temperature.setId("temperature");
        temperature.setMin(0);
        temperature.setMax(10);
        temperature.setStep(0.1);
        temperature.setValue(parse(state.get("temperature"), 0));
        temperature.setHelperText("0: greedy");
        topK = new IntegerField("Top-k");
        topK.setId("top-k");
        topK.setMin(0);
        topK.setValue(state.getInt("topK") == null ? 0 : state.getInt("topK"));
        topK.setHelperText("0: every token");
        seed = new TextField("Seed");
        seed.setId("seed");
        seed.setValue(state.get("seed", "0"));
        seed.setHelperText("one seed, one continuation");
        stopAtEos = new Checkbox("Stop at " + (explorer.tokenizer(model).bosId() < 0 ? "end of text" : bosToken()));
        stopAtEos.setId("stop-at-eos");
        stopAtEos.setValue(!"false".equals(state.get("stopAtEos")));
        body.add(row(prompt, runButton(this::run)), row(maxNew, temperature, topK, seed, stopAtEos));
        showResults(this::render);
    }

    private static double parse(String s, double fallback) {
        if (s == null || s.isBlank()) return fallback;
        try {
            return Double.parseDouble(s.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'temperature' must be a number, got '" + s + "'");
        }
    }

    private void run() {
        if (!validPrompt(prompt.getValue())) return;
        if (!seed.getValue().isBlank() && !seed.getValue().trim().matches("-?\\d{1,18}")) {
            fail("the seed must be a whole number, got '" + seed.getValue() + "'");
            return;
        }
        Double t = temperature.getValue();
        state.set("text", prompt.getValue(), "maxNew", maxNew.getValue(), "temperature", t == null || t == 0 ? null : t,
                "topK", topK.getValue() == null || topK.getValue() == 0 ? null : topK.getValue(),
                "seed", seed.getValue().isBlank() || seed.getValue().trim().equals("0") ? null : seed.getValue().trim(),
                "stopAtEos", stopAtEos.getValue() ? null : "false", "job", null);
        rerun();
    }

    /** The URL's request (validated: a bad one throws with its message). */
    private Explorer.Query<Generation.Result> query() {
        String s = state.get("seed");
        Long sd;
        try {
            sd = s == null ? null : Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'seed' must be a whole number, got '" + s + "'");
        }
        return explorer.generateQuery(model, state.get("text"), state.getInt("maxNew"), parse(state.get("temperature"), 0),
                state.getInt("topK"), sd, !"false".equals(state.get("stopAtEos")));
    }

    /**
     * The URL's generation: from the cache at once, else as a job (its id in the URL while it runs, so the link
     * reopens its live progress) whose result is drawn when it is done.
     */
    private void render(Div out) {
        var q = query();
        var stored = explorer.cached(q);
        if (stored.isPresent()) {
            state.set("job", null);
            draw(out, stored.get(), true);
            return;
        }
        String job = state.get("job");
        if (job == null || jobs.get(job).filter(j -> isJobOf(j, q)).isEmpty()) {
            ObjectNode params = JsonNodeFactory.instance.objectNode();
            params.put("model", model);
            params.put("text", state.get("text"));
            for (String k : List.of("maxNew", "topK")) if (state.getInt(k) != null) params.put(k, state.getInt(k));
            if (state.get("temperature") != null) params.put("temperature", parse(state.get("temperature"), 0));
            if (state.get("seed") != null) params.put("seed", state.get("seed").trim());
            if (state.get("stopAtEos") != null) params.put("stopAtEos", !"false".equals(state.get("stopAtEos")));
            job = jobs.submit(GenerationJobKind.NAME, UiClient.current(), params);
            state.set("job", job);
        }
        JobProgressBar bar = new JobProgressBar(jobs, job);
        bar.setId("generate-progress");
        out.add(bar);
        bar.onFinished(info -> {
            switch (info.state()) {
                case DONE -> guarded(() -> {
                    out.remove(bar);
                    state.set("job", null);
                    draw(out, ask(q).result(), false);
                });
                case CANCELLED -> {
                    state.set("job", null);
                    int asked = (Integer) q.params().get("maxNew");
                    fail("Cancelled after " + Math.round(info.progress() * asked) + " of " + asked
                            + " tokens: nothing was kept. Run again to generate.");
                }
                default -> {
                    state.set("job", null);
                    fail(info.error() == null ? "the generation failed" : info.error());
                }
            }
        });
    }

    /** Whether a job (a link's) is this request's generation; one of another request, or another kind, is not followed. */
    private boolean isJobOf(JobInfo j, Explorer.Query<Generation.Result> q) {
        if (!j.kind().equals(GenerationJobKind.NAME)) return false;
        try {
            return explorer.id(generations.query(j.params(), Progress.NONE)).equals(explorer.id(q));
        } catch (RuntimeException e) {
            return false;
        }
    }

    private void draw(Div out, Generation.Result r, boolean fromCache) {
        var o = r.options();

        // the text: the prompt's tokens, then the new ones marked with their probability
        Div text = new Div();
        text.setId("generated-text");
        text.getStyle().set("white-space", "pre-wrap").set("font-family", "var(--lumo-font-family)").set("line-height", "1.8")
                .set("border", "1px solid var(--lumo-contrast-20pct)").set("padding", "0.5em").set("border-radius", "4px");
        boolean list = explorer.tokenizer(model) instanceof dev.loupe.tokenizer.ListTokenizer;
        int lead = explorer.tokenizer(model).bosId() >= 0 ? 1 : 0;
        for (int i = lead; i < r.prompt().size(); i++) text.add(new Span(r.prompt().get(i).text() + (list ? " " : "")));
        for (Generation.Step st : r.steps()) {
            Span t = new Span(st.token().text() + (list ? " " : ""));
            t.addClassName("gen-token");
            t.getElement().setAttribute("data-id", String.valueOf(st.token().id()));
            t.getElement().setAttribute("data-prob", String.format(java.util.Locale.ROOT, "%.6f", st.prob()));
            t.getElement().setAttribute("title", st.token().token() + ": p " + pct(st.prob()) + (o.greedy() ? "" : ", drawn with p " + pct(st.sampleProb())));
            // darker for more likely tokens
            t.getStyle().set("background", "rgba(33, 102, 172, " + String.format(java.util.Locale.ROOT, "%.2f", 0.12 + 0.5 * st.prob()) + ")")
                    .set("border-radius", "3px");
            text.add(t);
        }
        String how = o.greedy() ? "greedy (the most likely token each step)"
                : "sampled at temperature " + o.temperature() + (o.topK() > 0 ? " from the top " + o.topK() : " from every token") + ", seed " + o.seed();
        String stop = switch (r.stopped()) {
            case "eos" -> "the model wrote its end-of-text token";
            case "context" -> "the context (" + config().nCtx() + " tokens) is full";
            default -> "the limit of " + o.maxNew() + " new tokens";
        };
        Paragraph summary = new Paragraph(r.steps().size() + " new tokens, " + how + "; stopped at " + stop + "."
                + (fromCache ? " · from the cache" : ""));
        summary.setId("generate-summary");
        out.add(summary, text);

        // open any view on the result
        Div links = new Div(label("Open on the result: "));
        links.setId("open-result");
        for (String[] v : OPEN) {
            Map<String, String> q = new LinkedHashMap<>();
            q.put("text", r.text());
            Anchor a = new Anchor(link(model, v[0], q), v[1]);
            a.getElement().setAttribute("data-view", v[0]);
            a.getStyle().set("margin-right", "1em");
            links.add(a);
        }
        Map<String, String> api = new LinkedHashMap<>();
        api.put("text", state.get("text"));
        for (String k : List.of("maxNew", "temperature", "topK", "seed", "stopAtEos")) if (state.get(k) != null) api.put(k, state.get(k));
        Anchor json = new Anchor(apiLink(model, "generate", api), "JSON");
        json.setId("generate-json");
        json.setTarget("_blank");
        links.add(json);
        out.add(links);
        if (!r.retokenizes())
            out.add(new Paragraph("Note: the text tokenizes differently from the generated tokens (" + r.ids().size()
                    + " ids), so the views opened on it see a slightly different sequence."));

        if (r.steps().isEmpty()) return;
        out.add(new H3("Each new token"));
        Series probs = new Series();
        probs.setId("generate-probs");
        double[] x = r.steps().stream().mapToDouble(Generation.Step::position).toArray();
        List<Series.Line> lines = new ArrayList<>();
        lines.add(new Series.Line("p(token)", r.steps().stream().map(Generation.Step::prob).toList(), true, List.of()));
        if (!o.greedy()) lines.add(new Series.Line("p drawn with", r.steps().stream().map(Generation.Step::sampleProb).toList(), false, List.of()));
        probs.show(null, x, lines, "position", "probability", false, 240);
        probs.spec().put("xMin", x[0] - 0.5).put("xMax", x[x.length - 1] + 0.5); // the new tokens only
        probs.setSpec(probs.spec());
        out.add(probs);

        Grid<Generation.Step> grid = new Grid<>();
        grid.setId("generate-steps");
        grid.addThemeVariants(GridVariant.LUMO_COMPACT, GridVariant.LUMO_ROW_STRIPES, GridVariant.LUMO_WRAP_CELL_CONTENT);
        grid.addColumn(Generation.Step::position).setHeader("pos").setWidth("60px").setFlexGrow(0);
        grid.addColumn(st -> st.token().token()).setHeader("token").setAutoWidth(true).setFlexGrow(0);
        grid.addColumn(st -> st.token().id()).setHeader("id").setAutoWidth(true).setFlexGrow(0);
        grid.addColumn(st -> pct(st.prob())).setHeader("p(token)").setAutoWidth(true).setFlexGrow(0);
        if (!o.greedy()) grid.addColumn(st -> pct(st.sampleProb())).setHeader("p drawn with").setAutoWidth(true).setFlexGrow(0);
        grid.addColumn(st -> fmt(st.logit())).setHeader("logit").setAutoWidth(true).setFlexGrow(0);
        grid.addColumn(st -> st.top().stream().map(c -> c.token() + " " + pct(c.prob())).collect(Collectors.joining("   ")))
                .setHeader("model's top " + Generation.TOP).setFlexGrow(1);
        grid.setItems(r.steps());
        grid.setAllRowsVisible(r.steps().size() <= 40);
        if (r.steps().size() > 40) grid.setHeight("480px");
        out.add(grid);
    }
}
