package dev.loupe.ui.explorer;

import com.vaadin.flow.component.html.Div;
import com.vaadin.flow.component.html.Paragraph;
import com.vaadin.flow.component.textfield.IntegerField;
import com.vaadin.flow.router.Route;
import dev.loupe.analysis.HeadDetectors;
import dev.loupe.analysis.TokenInfo;
import dev.loupe.service.Explorer;
import dev.loupe.ui.MainLayout;
import dev.loupe.ui.charts.Heatmap;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * Head detectors: previous-token, duplicate-token and induction scores of every head, on BOS + random tokens
 * repeated twice, as layer × head heatmaps. Clicking a head opens its attention pattern on the first sequence.
 */
@Route(value = "model/:model/detectors", layout = MainLayout.class)
public class DetectorsView extends ExplorerPage {
    private IntegerField length, batch, seed;

    public DetectorsView(Explorer explorer) {
        super(explorer);
    }

    @Override protected String route() { return "detectors"; }
    @Override protected String title() { return "Head detectors"; }

    @Override
    protected void show() {
        body.removeAll();
        length = field("Random tokens per repeat", "length", state.getInt("length"));
        length.setWidth("14em"); // room for its label
        batch = field("Sequences", "batch", state.getInt("batch"));
        seed = field("Seed", "seed", state.getInt("seed"));
        body.add(row(length, batch, seed, runButton(this::run)));
        showResults(this::render);
    }

    private static IntegerField field(String label, String id, Integer value) {
        IntegerField f = new IntegerField(label);
        f.setId(id);
        f.setValue(value);
        f.setPlaceholder("default");
        return f;
    }

    private void run() {
        state.set("length", length.getValue(), "batch", batch.getValue(), "seed", seed.getValue());
        rerun();
    }

    private void render(Div out) {
        Integer s = state.getInt("seed");
        var answer = ask(explorer.detectorsQuery(model, state.getInt("length"), state.getInt("batch"), s == null ? null : (long) s));
        HeadDetectors.Result r = answer.result();
        length.setValue(r.seqLen());
        batch.setValue(r.batch());
        seed.setValue((int) r.seed());
        var c = config();
        out.add(new Paragraph(String.format(Locale.ROOT,
                "%d sequences of %s and %d random tokens repeated twice (seed %d). Previous-token: attention from "
                        + "each token to the one before it; duplicate-token: to earlier occurrences of the same token; induction: "
                        + "to the token after an earlier occurrence.%s", r.batch(), bosToken(), r.seqLen(), r.seed(),
                answer.cached() ? " From the cache." : "")));
        List<String> x = IntStream.range(0, c.nHeads()).mapToObj(h -> "H" + h).toList();
        List<String> y = IntStream.range(0, c.nLayers()).mapToObj(l -> "L" + l).toList();
        Div maps = new Div();
        maps.getStyle().set("display", "grid").set("grid-template-columns", "repeat(auto-fit, minmax(380px, 1fr))").set("gap", "12px");
        Map<String, double[][]> scores = new LinkedHashMap<>();
        scores.put("previous-token", r.previousToken());
        scores.put("duplicate-token", r.duplicateToken());
        scores.put("induction", r.induction());
        String sample = r.sample().stream().skip(1).map(TokenInfo::text).collect(Collectors.joining()); // BOS is prepended again
        scores.forEach((name, v) -> {
            String[][] text = new String[v.length][];
            for (int l = 0; l < v.length; l++) {
                text[l] = new String[v[l].length];
                for (int h = 0; h < v[l].length; h++) text[l][h] = String.format(Locale.ROOT, "%.2f", v[l][h]);
            }
            Heatmap map = new Heatmap();
            map.setId("detector-" + name);
            map.show(new Heatmap.Spec().title(name + " score").xLabels(x).yLabels(y).axisNames("head", "layer").values(v).text(text)
                    .range(0, 1).legend().xRotate(0).height(Math.max(240, 130 + 30 * c.nLayers())).grid(50, 90).nameGaps(28, 36));
            map.addCellClickListener(e -> getUI().ifPresent(ui -> ui.getPage().setLocation(
                    link(model, "attention", Map.of("text", sample, "layer", String.valueOf(e.y()), "head", String.valueOf(e.x()))))));
            maps.add(map);
        });
        out.add(maps);
        HeadDetectors.Chance ch = r.chance();
        Paragraph chance = new Paragraph(String.format(Locale.ROOT, "Chance level on these sequences: previous-token %.2f · "
                + "duplicate-token %.2f · induction %.2f.", ch.previousToken(), ch.duplicateToken(), ch.induction()));
        chance.setId("detectors-chance");
        Paragraph explained = new Paragraph("Each score is the mean attention a head puts where that kind of head looks. The chance "
                + "level is the score of a head that spreads its attention uniformly over the current and every earlier token: "
                + "a head near it does nothing of that kind, one well above it (up to 1) does. Scores below chance are common "
                + "and not a fault: many heads of trained models attend mostly to the first token and score near 0 on all three.");
        explained.setId("detectors-explained");
        out.add(chance, explained);
        out.add(label("Click a head to see its attention on the first sequence (re-tokenized from its text, so it may differ slightly)."));
    }
}
