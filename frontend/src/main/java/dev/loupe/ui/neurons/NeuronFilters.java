package dev.loupe.ui.neurons;

import com.vaadin.flow.component.combobox.ComboBox;
import com.vaadin.flow.component.html.Div;
import com.vaadin.flow.component.html.Span;
import com.vaadin.flow.component.orderedlayout.FlexComponent;
import com.vaadin.flow.component.orderedlayout.HorizontalLayout;
import com.vaadin.flow.component.textfield.NumberField;
import com.vaadin.flow.component.textfield.TextField;
import com.vaadin.flow.data.value.ValueChangeMode;
import dev.loupe.ui.explorer.UrlState;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.ToDoubleFunction;

/**
 * The neuron browser's filters: a range for each statistic (either end may be left open), the class, label text and
 * a minimum score. Each filter lives in the URL ({@code max=0.5..2}, {@code density=..10}, {@code class=prediction},
 * {@code label=an}, {@code score=0.5}), so a filtered table is a link.
 */
final class NeuronFilters extends HorizontalLayout {
    /** A filterable statistic; {@code scale} turns the stored value into what the table shows (density in percent). */
    private record Stat(String key, String name, ToDoubleFunction<NeuronBrowserView.Row> value, double scale) {}

    private static final List<Stat> STATS = List.of(
            new Stat("max", "max activation", NeuronBrowserView.Row::max, 1),
            new Stat("density", "density %", NeuronBrowserView.Row::density, 100),
            new Stat("kurtosis", "kurtosis", NeuronBrowserView.Row::kurtosis, 1),
            new Stat("vkurt", "vocab kurtosis", NeuronBrowserView.Row::vocabKurtosis, 1),
            new Stat("vskew", "vocab skew", NeuronBrowserView.Row::vocabSkew, 1));
    /** The class filter's choices; "neither" is a neuron with vocabulary kurtosis ≤ 10. */
    private static final Map<String, String> CLASSES = Map.of("prediction", "prediction", "suppression", "suppression", "neither", "");

    private final UrlState state;
    private final Map<Stat, NumberField[]> ranges = new LinkedHashMap<>();
    private final TextField label = new TextField("label contains");
    private final NumberField minScore = new NumberField("min score");
    private final ComboBox<String> cls = new ComboBox<>("class");

    NeuronFilters(UrlState state, Runnable changed) {
        this.state = state;
        setDefaultVerticalComponentAlignment(FlexComponent.Alignment.END);
        getStyle().set("flex-wrap", "wrap");
        for (Stat s : STATS) {
            NumberField from = field(s.key() + "-from", "from"), to = field(s.key() + "-to", "to");
            double[] r = range(s.key(), state.get(s.key()));
            if (!Double.isNaN(r[0])) from.setValue(r[0]);
            if (!Double.isNaN(r[1])) to.setValue(r[1]);
            ranges.put(s, new NumberField[]{from, to});
            Span name = new Span(s.name());
            name.getStyle().set("font-size", "var(--lumo-font-size-s)").set("color", "var(--lumo-secondary-text-color)").set("display", "block");
            Div group = new Div(name, new HorizontalLayout(from, to));
            group.addClassName("range-filter");
            add(group);
            for (NumberField f : new NumberField[]{from, to}) f.addValueChangeListener(e -> { write(s); changed.run(); });
        }
        cls.setId("filter-class");
        cls.setItems("prediction", "suppression", "neither");
        cls.setClearButtonVisible(true);
        cls.setWidth("10em");
        if (state.get("class") != null) {
            if (!CLASSES.containsKey(state.get("class")))
                throw new IllegalArgumentException("'class' must be prediction, suppression or neither, got '" + state.get("class") + "'");
            cls.setValue(state.get("class"));
        }
        label.setId("filter-label");
        label.setValueChangeMode(ValueChangeMode.EAGER);
        label.setValue(state.get("label", ""));
        minScore.setId("filter-score");
        minScore.setWidth("7em");
        if (state.get("score") != null) minScore.setValue(number("score", state.get("score")));
        cls.addValueChangeListener(e -> { state.set("class", e.getValue()); changed.run(); });
        label.addValueChangeListener(e -> { state.set("label", e.getValue()); changed.run(); });
        minScore.addValueChangeListener(e -> { state.set("score", e.getValue() == null ? null : fmt(e.getValue())); changed.run(); });
        add(cls, label, minScore);
    }

    private static NumberField field(String id, String placeholder) {
        NumberField f = new NumberField();
        f.setId("filter-" + id);
        f.setPlaceholder(placeholder);
        f.setWidth("6.5em");
        f.setValueChangeMode(ValueChangeMode.ON_CHANGE);
        return f;
    }

    /** Whether a row passes every filter (ranges inclusive). */
    Predicate<NeuronBrowserView.Row> predicate() {
        Map<Stat, Double[]> bounds = new LinkedHashMap<>();
        ranges.forEach((s, f) -> bounds.put(s, new Double[]{f[0].getValue(), f[1].getValue()}));
        String text = label.getValue().toLowerCase(Locale.ROOT);
        Double score = minScore.getValue();
        String wanted = cls.getValue() == null ? null : CLASSES.get(cls.getValue());
        return r -> {
            for (var e : bounds.entrySet()) {
                double v = e.getKey().value().applyAsDouble(r) * e.getKey().scale();
                Double lo = e.getValue()[0], hi = e.getValue()[1];
                if ((lo != null && !(v >= lo)) || (hi != null && !(v <= hi))) return false;
            }
            return (text.isEmpty() || r.label().toLowerCase(Locale.ROOT).contains(text))
                    && (score == null || (r.score() != null && r.score() >= score))
                    && (wanted == null || wanted.equals(r.cls()));
        };
    }

    private void write(Stat s) {
        Double lo = ranges.get(s)[0].getValue(), hi = ranges.get(s)[1].getValue();
        state.set(s.key(), lo == null && hi == null ? null : (lo == null ? "" : fmt(lo)) + ".." + (hi == null ? "" : fmt(hi)));
    }

    /** "lo..hi" with either end optional; NaN for an open end. */
    static double[] range(String key, String value) {
        if (value == null || value.isBlank()) return new double[]{Double.NaN, Double.NaN};
        int dots = value.indexOf("..");
        if (dots < 0) throw new IllegalArgumentException("'" + key + "' must be a range like 0.5..2, ..2 or 0.5.., got '" + value + "'");
        String lo = value.substring(0, dots).trim(), hi = value.substring(dots + 2).trim();
        return new double[]{lo.isEmpty() ? Double.NaN : number(key, lo), hi.isEmpty() ? Double.NaN : number(key, hi)};
    }

    private static double number(String key, String s) {
        try {
            double v = Double.parseDouble(s.trim());
            if (!Double.isFinite(v)) throw new NumberFormatException();
            return v;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + key + "' needs numbers, got '" + s + "'");
        }
    }

    private static String fmt(double v) { return v == Math.rint(v) && Math.abs(v) < 1e15 ? String.valueOf((long) v) : String.valueOf(v); }
}
