package dev.loupe.ui.charts;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.vaadin.flow.component.Tag;
import com.vaadin.flow.component.dependency.JsModule;
import com.vaadin.flow.component.dependency.NpmPackage;

import java.util.LinkedHashMap;
import java.util.Map;

/** ECharts lines over a numeric x axis, one per named series. */
@Tag("loupe-lines")
@NpmPackage(value = "echarts", version = "6.1.0")
@JsModule("./charts/loupe-lines.ts")
public class LineChart extends ChartComponent {

    public LineChart() {
        setWidthFull();
    }

    /** @param series name → points [x, y] */
    public void show(String title, String xName, String yName, Map<String, double[][]> series) {
        ObjectNode o = newSpec();
        if (title != null) o.put("title", title);
        o.put("xName", xName);
        o.put("yName", yName);
        o.put("height", 300);
        ArrayNode s = o.putArray("series");
        new LinkedHashMap<>(series).forEach((name, points) -> {
            ObjectNode line = s.addObject();
            line.put("name", name);
            ArrayNode d = line.putArray("data");
            for (double[] p : points) d.addArray().add(p[0]).add(p[1]);
        });
        setSpec(o);
    }
}
