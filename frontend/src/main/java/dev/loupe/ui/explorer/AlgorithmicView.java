package dev.loupe.ui.explorer;

import com.vaadin.flow.component.html.Div;
import com.vaadin.flow.component.html.H3;
import com.vaadin.flow.component.html.Paragraph;
import com.vaadin.flow.component.select.Select;
import com.vaadin.flow.component.textfield.IntegerField;
import com.vaadin.flow.router.Route;
import dev.loupe.service.Algorithmic;
import dev.loupe.service.Explorer;
import dev.loupe.ui.MainLayout;
import dev.loupe.ui.UiClient;
import dev.loupe.ui.charts.Heatmap;
import dev.loupe.ui.charts.Series;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * A modular-addition model as Nanda et al. read it: the Fourier spectrum of the embedding with its key frequencies,
 * p(answer) over the (a, b) grid with the training pairs marked, the neurons by dominant frequency with one
 * neuron's activation over the grid, and the training curves with the progress measures. State in the URL:
 * {@code pairs} (all, train, test) and {@code neuron}.
 */
@Route(value = "model/:model/algorithmic", layout = MainLayout.class)
public class AlgorithmicView extends ExplorerPage {
    private final Algorithmic algorithmic;

    public AlgorithmicView(Explorer explorer, Algorithmic algorithmic) {
        super(explorer);
        this.algorithmic = algorithmic;
    }

    @Override protected String route() { return "algorithmic"; }
    @Override protected String title() { return "Algorithmic"; }

    @Override
    protected void show() {
        body.removeAll();
        algorithmic.modulus(model);   // not a modadd model: the message, nothing else
        showResults(this::render);
    }

    private void render(Div out) {
        Algorithmic.Overview o = algorithmic.overview(model, UiClient.current());
        int p = o.p();
        var s = o.spectrum();
        double nonConstant = Arrays.stream(s.power()).skip(1).sum();
        String keys = Arrays.stream(s.keys()).mapToObj(k -> String.format(Locale.ROOT, "%d (%.1f %%)", k, 100 * s.power()[k] / nonConstant))
                .collect(Collectors.joining(", "));
        Paragraph summary = new Paragraph(String.format(Locale.ROOT,
                "a + b mod %d, answered at '='. Key frequencies of W_E (over the %d number tokens, constant excluded): %s — "
                        + "together %.1f %% of the non-constant Fourier power. Accuracy: %s on the training pairs, %.2f %% on the %s.",
                p, p, keys, 100 * s.keyFraction(), o.trainAccuracy() == null ? "–" : String.format(Locale.ROOT, "%.2f %%", 100 * o.trainAccuracy()),
                100 * o.testAccuracy(), o.trainPairs() == null ? "pairs (no recipe names a split)" : "held-out pairs"));
        summary.setId("summary");
        out.add(summary);

        out.add(new H3("Embedding spectrum"));
        double[] ks = IntStream.rangeClosed(1, p / 2).asDoubleStream().toArray();
        List<Double> share = IntStream.rangeClosed(1, p / 2).mapToObj(k -> s.power()[k] / nonConstant).toList();
        Series spectrum = new Series();
        spectrum.setId("spectrum");
        spectrum.show("Share of W_E's non-constant Fourier power by frequency (key frequencies in red)", ks,
                List.of(new Series.Line("power share", share, true, Arrays.stream(s.keys()).boxed().toList())), "frequency k", "share", false, 280);
        out.add(spectrum);

        out.add(new H3("Answers over the (a, b) grid"));
        String pairs = state.get("pairs", "all");
        Select<String> which = new Select<>();
        which.setId("pairs");
        which.setLabel("Pairs shown");
        which.setItems("all", "test", "train");
        which.setItemLabelGenerator(v -> switch (v) { case "test" -> "held-out pairs only"; case "train" -> "training pairs only"; default -> "all pairs"; });
        which.setValue(pairs);
        which.addValueChangeListener(e -> { if (e.isFromClient()) { state.set("pairs", e.getValue()); rerun(); } });
        out.add(which);
        double[][] prob = new double[p][p];
        int shown = 0, wrong = 0;
        for (int a = 0; a < p; a++)
            for (int b = 0; b < p; b++) {
                boolean train = o.trainPairs() != null && o.trainPairs()[a][b];
                boolean keep = pairs.equals("all") || (pairs.equals("train") == train);
                prob[a][b] = keep ? o.answerProb()[a][b] : Double.NaN;
                if (keep) { shown++; if (!o.correct()[a][b]) wrong++; }
            }
        List<String> nums = IntStream.range(0, p).mapToObj(String::valueOf).toList();
        Heatmap answers = new Heatmap();
        answers.setId("answers");
        answers.show(new Heatmap.Spec().title(String.format(Locale.ROOT, "p(answer) at '=': %d pairs shown, %d answered wrong (empty cells: not shown)", shown, wrong))
                .xLabels(nums).yLabels(nums).axisNames("b", "a").values(prob).range(0, 1).legend().labelInterval(p > 40 ? 15 : 0)
                .xRotate(0).height(560).grid(50, 60).nameGaps(26, 32));
        out.add(answers);

        out.add(new H3("Neurons"));
        List<Double> counts = IntStream.rangeClosed(1, p / 2).mapToObj(k -> (double) o.neuronCounts()[k]).toList();
        Series byFreq = new Series();
        byFreq.setId("neuron-frequencies");
        byFreq.show("MLP neurons by dominant frequency of their activation over (a, b)", ks,
                List.of(new Series.Line("neurons", counts, true, Arrays.stream(s.keys()).boxed().toList())), "frequency k", "neurons", false, 260);
        out.add(byFreq);
        Integer asked = state.getInt("neuron");
        int n = asked != null ? asked : strongestNeuron(o);
        IntegerField neuronField = new IntegerField("Neuron");
        neuronField.setId("neuron");
        neuronField.setMin(0);
        neuronField.setMax(o.neuronFreq().length - 1);
        neuronField.setValue(n);
        neuronField.setStepButtonsVisible(true);
        neuronField.addValueChangeListener(e -> { if (e.isFromClient() && e.getValue() != null) { state.set("neuron", e.getValue()); rerun(); } });
        out.add(neuronField);
        Algorithmic.Neuron neuron = algorithmic.neuron(model, n, UiClient.current());
        double[][] act = new double[p][p];
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (int a = 0; a < p; a++)
            for (int b = 0; b < p; b++) {
                act[a][b] = neuron.activation()[a][b];
                lo = Math.min(lo, act[a][b]);
                hi = Math.max(hi, act[a][b]);
            }
        Div pair = new Div();
        pair.getStyle().set("display", "grid").set("grid-template-columns", "repeat(auto-fit, minmax(420px, 1fr))").set("gap", "12px");
        Heatmap map = new Heatmap();
        map.setId("neuron-map");
        map.show(new Heatmap.Spec().title(String.format(Locale.ROOT, "neuron %d at '=' (dominant frequency %d, %.0f %% of its power)", n, neuron.frequency(), 100 * neuron.fraction()))
                .xLabels(nums).yLabels(nums).axisNames("b", "a").values(act).range(lo, hi).legend().labelInterval(p > 40 ? 15 : 0)
                .xRotate(0).height(480).grid(50, 60).nameGaps(26, 32));
        Series power = new Series();
        power.setId("neuron-power");
        power.show("neuron " + n + ": share of its (a, b) Fourier power by frequency", ks,
                List.of(new Series.Line("share", IntStream.rangeClosed(1, p / 2).mapToObj(k -> neuron.power()[k]).toList(), true, List.of(neuron.frequency()))),
                "frequency k", "share", false, 480);
        pair.add(map, power);
        out.add(pair);

        out.add(new H3("Training and progress measures"));
        curves(out, o.curves());
    }

    /** The neuron most concentrated on the strongest key frequency: a representative picture. */
    private static int strongestNeuron(Algorithmic.Overview o) {
        int key = o.spectrum().keys().length > 0 ? o.spectrum().keys()[0] : 1, best = 0;
        double bestFrac = -1;
        for (int i = 0; i < o.neuronFreq().length; i++)
            if (o.neuronFreq()[i] == key && o.neuronFreqFraction()[i] > bestFrac) { best = i; bestFrac = o.neuronFreqFraction()[i]; }
        return best;
    }

    private void curves(Div out, dev.loupe.model.Evaluations c) {
        int step = c.columns().indexOf("step");
        if (step < 0 || c.rows().isEmpty()) {
            Paragraph none = new Paragraph("This model folder has no eval.csv with a step column: no training curves.");
            none.setId("no-curves");
            out.add(none);
            return;
        }
        double[] x = c.rows().stream().mapToDouble(r -> r.get(step) == null ? Double.NaN : r.get(step)).toArray();
        List<Series.Line> losses = new ArrayList<>();
        for (String col : List.of("train_loss", "train_loss_eval", "test_loss", "restricted_loss", "excluded_loss")) {
            int i = c.columns().indexOf(col);
            if (i >= 0) losses.add(new Series.Line(col.replace("_eval", ""), c.rows().stream().map(r -> r.get(i)).toList(), false, List.of()));
        }
        Series chart = new Series();
        chart.setId("curves");
        chart.show("Loss per checkpoint (log scale). Restricted: logits kept only along the key frequencies (all pairs); "
                + "excluded: those directions removed (training pairs)", x, losses, "step", "loss (nats)", true, 360);
        out.add(chart);
        int f = c.columns().indexOf("key_power_fraction");
        if (f >= 0) {
            Series frac = new Series();
            frac.setId("key-power-curve");
            frac.show("Share of W_E's non-constant Fourier power in the final key frequencies", x,
                    List.of(new Series.Line("key power share", c.rows().stream().map(r -> r.get(f)).toList(), false, List.of())), "step", "share", false, 260);
            out.add(frac);
        }
    }
}
