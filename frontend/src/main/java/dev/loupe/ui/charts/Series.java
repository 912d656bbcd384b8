package dev.loupe.ui.charts;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.vaadin.flow.component.Tag;
import com.vaadin.flow.component.dependency.JsModule;
import com.vaadin.flow.component.dependency.NpmPackage;

import java.util.List;

/** ECharts lines or bars over a numeric x axis (training curves, spectra). */
@Tag("loupe-series")
@NpmPackage(value = "echarts", version = "6.1.0")
@JsModule("./charts/loupe-series.ts")
public class Series extends ChartComponent {

    /** One series; values may hold null (a gap); highlight lists x values drawn in red (bars). */
    public record Line(String name, List<Double> values, boolean bars, List<Integer> highlight) {}

    public Series() {
        setWidthFull();
    }

    public void show(String title, double[] x, List<Line> lines, String xName, String yName, boolean logY, int height) {
        ObjectNode o = newSpec();
        if (title != null) o.put("title", title);
        ArrayNode xs = o.putArray("x");
        for (double v : x) xs.add(v);
        ArrayNode ss = o.putArray("series");
        for (Line l : lines) {
            ObjectNode s = ss.addObject();
            s.put("name", l.name());
            s.put("kind", l.bars() ? "bar" : "line");
            ArrayNode v = s.putArray("values");
            for (Double d : l.values()) {
                if (d == null || !Double.isFinite(d) || (logY && d <= 0)) v.addNull();
                else v.add(d);
            }
            ArrayNode h = s.putArray("highlight");
            l.highlight().forEach(h::add);
        }
        o.put("xName", xName);
        o.put("yName", yName);
        o.put("logY", logY);
        o.put("height", height);
        setSpec(o);
    }
}
