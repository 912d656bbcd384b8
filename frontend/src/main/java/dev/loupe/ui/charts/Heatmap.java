package dev.loupe.ui.charts;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.vaadin.flow.component.ComponentEvent;
import com.vaadin.flow.component.DomEvent;
import com.vaadin.flow.component.EventData;
import com.vaadin.flow.component.Tag;
import com.vaadin.flow.component.dependency.JsModule;
import com.vaadin.flow.component.dependency.NpmPackage;
import com.vaadin.flow.shared.Registration;

import java.util.List;

/** An ECharts heatmap with axis labels, optional text in every cell and tooltips; row 0 on top. */
@Tag("loupe-heatmap")
@NpmPackage(value = "echarts", version = "6.1.0")
@JsModule("./charts/loupe-heatmap.ts")
public class Heatmap extends ChartComponent {

    /** Fired when a cell is clicked: x is the column, y the row. */
    @DomEvent("cell-click")
    public static class CellClickEvent extends ComponentEvent<Heatmap> {
        private final int x, y;

        public CellClickEvent(Heatmap source, boolean fromClient,
                              @EventData("event.detail.x") int x, @EventData("event.detail.y") int y) {
            super(source, fromClient);
            this.x = x;
            this.y = y;
        }

        public int x() { return x; }
        public int y() { return y; }
    }

    /** Builder-style spec. */
    public static final class Spec {
        final ObjectNode o = newSpec();

        public Spec title(String t) { o.put("title", t); return this; }
        public Spec xLabels(List<String> l) { o.set("xLabels", strings(l)); return this; }
        public Spec yLabels(List<String> l) { o.set("yLabels", strings(l)); return this; }
        public Spec axisNames(String x, String y) { o.put("xName", x); o.put("yName", y); return this; }
        public Spec range(double min, double max) { o.put("min", min); o.put("max", max); return this; }
        public Spec diverging() { o.put("diverging", true); return this; }
        public Spec legend() { o.put("legend", true); return this; }
        public Spec height(int px) { o.put("height", px); return this; }
        public Spec labelSize(int px) { o.put("labelSize", px); return this; }
        /** Cuts every cell's text to the cell's width (an ellipsis at the end; the tooltip shows it whole). */
        public Spec fitText() { o.put("fitText", true); return this; }
        /** Draw on a canvas whatever the size: a few hundred labelled cells as SVG shapes cost a noticeable part of a second. */
        public Spec canvas() { o.put("canvas", true); return this; }
        /** Show every n-th axis label (0: all). */
        public Spec labelInterval(int n) { o.put("labelInterval", n); return this; }
        public Spec hideAxes() { o.put("hideAxes", true); return this; }
        public Spec xRotate(int deg) { o.put("xRotate", deg); return this; }
        public Spec grid(int left, int bottom) { o.put("gridLeft", left); o.put("gridBottom", bottom); return this; }
        public Spec nameGaps(int x, int y) { o.put("xNameGap", x); o.put("yNameGap", y); return this; }
        /** A zoom window (slider, shift+wheel) over the x axis showing its last {@code last} entries (0: all). */
        public Spec zoomX(int last) { o.put("zoomX", last); return this; }
        public Spec zoomY(int last) { o.put("zoomY", last); return this; }
        /** The legend's two ends, e.g. "100%" and "0.0001%" for a log scale. */
        public Spec legendText(String top, String bottom) { o.putArray("legendText").add(top).add(bottom); return this; }
        /** Decimals kept of each value (default 6); big grids send fewer. */
        public Spec digits(int d) { digits = Math.pow(10, d); return this; }
        private double digits = 1e6;

        /** values[row][col]; NaN leaves the cell empty. */
        public Spec values(double[][] v) {
            ArrayNode rows = o.putArray("values");
            for (double[] r : v) {
                ArrayNode a = rows.addArray();
                for (double x : r) {
                    if (Double.isNaN(x)) a.addNull();
                    else a.add(Math.round(x * digits) / digits);
                }
            }
            return this;
        }

        public Spec text(String[][] t) { o.set("text", grid(t)); return this; }
        public Spec tips(String[][] t) { o.set("tips", grid(t)); return this; }

        private static ArrayNode strings(List<String> l) {
            ArrayNode a = JSON.createArrayNode();
            l.forEach(a::add);
            return a;
        }

        private static ArrayNode grid(String[][] t) {
            ArrayNode rows = JSON.createArrayNode();
            for (String[] r : t) {
                ArrayNode a = rows.addArray();
                for (String s : r) a.add(s);
            }
            return rows;
        }
    }

    public Heatmap() {
        setWidthFull();
    }

    public void show(Spec spec) { setSpec(spec.o); }

    public Registration addCellClickListener(com.vaadin.flow.component.ComponentEventListener<CellClickEvent> l) {
        return addListener(CellClickEvent.class, l);
    }
}
