package dev.loupe.ui.charts;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.vaadin.flow.component.Tag;
import com.vaadin.flow.component.dependency.JsModule;
import com.vaadin.flow.component.dependency.NpmPackage;

/** Faithfulness against the number of edges (log axis), one line per selection rule. */
@Tag("loupe-faithfulness")
@NpmPackage(value = "echarts", version = "6.1.0")
@JsModule("./charts/loupe-faithfulness.ts")
public class FaithfulnessChart extends ChartComponent {
    public FaithfulnessChart() { setWidthFull(); }

    /** {@code curves}: name → array of {n, faithfulness}; {@code marker}: the n of the set shown in the graph. */
    public void show(java.util.Map<String, JsonNode> curves, int marker) {
        ObjectNode o = newSpec();
        ArrayNode series = o.putArray("series");
        curves.forEach((name, pts) -> {
            ObjectNode s = series.addObject().put("name", name);
            ArrayNode p = s.putArray("points");
            for (JsonNode pt : pts) p.addArray().add(pt.get("n").asInt()).add(Math.round(pt.get("faithfulness").asDouble() * 1e4) / 1e4);
        });
        o.put("marker", marker).put("height", 260);
        setSpec(o);
    }
}
