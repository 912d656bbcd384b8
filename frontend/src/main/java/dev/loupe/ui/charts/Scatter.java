package dev.loupe.ui.charts;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.vaadin.flow.component.Tag;
import com.vaadin.flow.component.dependency.JsModule;
import com.vaadin.flow.component.dependency.NpmPackage;

import java.util.List;

/** An ECharts scatter plot of (x, y) points with the y = x line, a label per point in its tooltip. */
@Tag("loupe-scatter")
@NpmPackage(value = "echarts", version = "6.1.0")
@JsModule("./charts/loupe-scatter.ts")
public class Scatter extends ChartComponent {

    public Scatter() {
        setWidthFull();
    }

    public void show(String title, double[] x, double[] y, List<String> labels, String xName, String yName, int height) {
        ObjectNode o = newSpec();
        if (title != null) o.put("title", title);
        ArrayNode pts = o.putArray("points");
        for (int i = 0; i < x.length; i++) pts.addArray().add(Math.round(x[i] * 1e6) / 1e6).add(Math.round(y[i] * 1e6) / 1e6);
        ArrayNode l = o.putArray("labels");
        labels.forEach(l::add);
        o.put("xName", xName);
        o.put("yName", yName);
        o.put("height", height);
        setSpec(o);
    }
}
