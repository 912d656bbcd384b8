package dev.loupe.ui.explorer;

import com.vaadin.flow.component.html.Anchor;
import com.vaadin.flow.component.html.Div;
import com.vaadin.flow.component.html.H3;
import com.vaadin.flow.component.html.ListItem;
import com.vaadin.flow.component.html.Paragraph;
import com.vaadin.flow.component.markdown.Markdown;
import com.vaadin.flow.component.html.Span;
import com.vaadin.flow.component.html.UnorderedList;
import com.vaadin.flow.router.Route;
import dev.loupe.model.GptConfig;
import dev.loupe.model.ModelFolder;
import dev.loupe.service.Explorer;
import dev.loupe.service.ModelEngines;
import dev.loupe.ui.MainLayout;
import dev.loupe.ui.charts.LineChart;


import java.util.LinkedHashMap;
import java.util.Map;

/** A model's page: its config, its card and a link to every explorer view. */
@Route(value = "model/:model", layout = MainLayout.class)
public class ModelView extends ExplorerPage {
    /** The views a sample prompt is given to. */
    private static final java.util.Set<String> WITH_PROMPT = java.util.Set.of("prompt", "lens", "attention", "heads", "dla", "generate", "compare");
    private final ModelEngines engines;

    public ModelView(Explorer explorer, ModelEngines engines) {
        super(explorer);
        this.engines = engines;
    }

    @Override protected String route() { return ""; }
    @Override protected String title() { return "Model"; }

    @Override
    protected void show() {
        body.removeAll();
        ModelFolder f = engines.entry(model).folder();
        GptConfig c = f.config();
        if (!f.description().isBlank()) body.add(new Paragraph(f.description()));
        if (f.placeholder()) {
            Span badge = new Span("placeholder: random weights, predicts nothing meaningful");
            badge.getElement().getThemeList().add("badge contrast");
            body.add(badge);
        }

        Map<String, String> facts = new LinkedHashMap<>();
        facts.put("parameters", String.format("%,d", c.parameterCount()));
        facts.put("layers", String.valueOf(c.nLayers()));
        facts.put("heads per layer", String.valueOf(c.nHeads()));
        facts.put("d_model", String.valueOf(c.dModel()));
        facts.put("d_head", String.valueOf(c.dHead()));
        facts.put("d_mlp", c.attnOnly() ? "– (attention only)" : String.valueOf(c.dMlp()));
        facts.put("context", c.nCtx() + " tokens");
        facts.put("vocabulary", c.dVocab() + " tokens (" + f.tokenizerType() + " tokenizer)");
        facts.put("LayerNorm ε", String.valueOf(c.lnEps()));
        Div config = new Div();
        config.setId("config");
        config.getStyle().set("display", "grid").set("grid-template-columns", "max-content auto").set("gap", "2px 16px");
        facts.forEach((k, v) -> {
            Span key = label(k);
            Span val = new Span(v);
            val.getElement().setAttribute("data-key", k);
            config.add(key, val);
        });
        body.add(new H3("Config"), config);

        body.add(new H3("Explore"));
        UnorderedList links = new UnorderedList();
        links.setId("views");
        String sample = samplePrompt();
        // every view of the navigation bar, each with what it shows
        Map<String, String> descriptions = new LinkedHashMap<>();
        descriptions.put("prompt", "the tokens with ids, the top-10 next tokens at every position and each token's loss");
        descriptions.put("lens", "the top token of every layer's residual stream (or any stream) at every position, read through the unembedding");
        descriptions.put("attention", "the attention pattern of every head, with token labels");
        descriptions.put("heads", "every head of every layer at once, plain or value-weighted");
        descriptions.put("dla", "how much every head and MLP adds to a logit difference, optionally split by source position");
        descriptions.put("generate", "greedy or sampled continuation of a prompt, then any view on the result");
        descriptions.put("compare", "one metric (logit difference, probability, loss) over a list of prompts, as a table");
        descriptions.put("detectors", "previous-token, duplicate-token and induction scores of every head");
        descriptions.put("patching", "activation and path patching between a clean and a corrupted prompt");
        descriptions.put("circuits", "circuit discovery on a task or uploaded pairs, as a graph with its faithfulness");
        descriptions.put("weights", "QK and OV circuits of a head through the embedding, and Q-/K-/V-composition between heads");
        for (String[] v : VIEWS) {
            String d = descriptions.get(v[0]);
            if (d == null) continue;
            Map<String, String> q = new LinkedHashMap<>();
            if (WITH_PROMPT.contains(v[0])) q.put("text", sample);
            Anchor a = new Anchor(link(model, v[0], q), v[1]);
            a.getElement().setAttribute("data-view", v[0]);
            links.add(new ListItem(a, new Span(" — " + d)));
        }
        if (explorer.tokenizer(model) instanceof dev.loupe.tokenizer.ListTokenizer lt
                && dev.loupe.algorithmic.ModularAddition.modulus(lt.vocab()) > 0) {
            Anchor a = new Anchor(link(model, "algorithmic", Map.of()), "Algorithmic");
            a.getElement().setAttribute("data-view", "algorithmic");
            links.add(new ListItem(a, new Span(" — the Fourier spectrum of the embedding, answers and neurons over the (a, b) grid, progress measures")));
        }
        body.add(links);

        Map<String, double[][]> curves = f.evaluations().curvesOverSteps("loss");
        if (!curves.isEmpty()) {
            body.add(new H3("Training evaluations"));
            LineChart chart = new LineChart();
            chart.setId("eval-chart");
            chart.show(null, "step", "loss (nats)", curves);
            body.add(chart, label("From eval.csv in the model's folder: every loss column against the training step."));
        }

        body.add(new H3("Model card"));
        Markdown card = new Markdown(f.card().isBlank() ? "*(no model card)*" : f.card());
        card.setId("card");
        body.add(card);
    }
}
