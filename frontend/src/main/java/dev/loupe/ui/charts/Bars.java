package dev.loupe.ui.charts;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.vaadin.flow.component.Tag;
import com.vaadin.flow.component.dependency.JsModule;
import com.vaadin.flow.component.dependency.NpmPackage;

import java.util.List;

/** Horizontal ECharts bars with the value written at each bar's end. */
@Tag("loupe-bars")
@NpmPackage(value = "echarts", version = "6.1.0")
@JsModule("./charts/loupe-bars.ts")
public class Bars extends ChartComponent {

    public Bars() {
        setWidthFull();
    }

    /** Probabilities as percentage bars, labelled like the tables (12%, 3.4%). */
    public void showPercent(String title, List<String> labels, double[] probabilities) {
        double[] pct = new double[probabilities.length];
        for (int i = 0; i < pct.length; i++) pct[i] = probabilities[i] * 100;
        show(title, labels, pct, "probability (%)", false);
        spec().put("percent", true);
        setSpec(spec());
    }

    /**
     * Room for the labels left of the bars, in pixels (default 110): a longer label is cut at its end with an
     * ellipsis, and the tooltip shows it whole. Set before {@code show}.
     */
    public Bars labelWidth(int px) {
        labelWidth = px;
        return this;
    }

    private int labelWidth = 0;

    public void show(String title, List<String> labels, double[] values, String valueName, boolean colorBySign) {
        ObjectNode o = newSpec();
        if (title != null) o.put("title", title);
        ArrayNode l = o.putArray("labels");
        labels.forEach(l::add);
        ArrayNode v = o.putArray("values");
        for (double x : values) v.add(Math.round(x * 1e6) / 1e6);
        if (valueName != null) o.put("valueName", valueName);
        o.put("colorBySign", colorBySign);
        if (labelWidth > 0) o.put("gridLeft", labelWidth);
        o.put("height", Math.max(120, 46 + 24 * labels.size()));
        setSpec(o);
    }
}
