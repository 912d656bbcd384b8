package dev.loupe.ui.charts;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.vaadin.flow.component.Tag;
import com.vaadin.flow.component.dependency.JsModule;

import java.util.List;

/** The prompt's tokens; hovering one shows where it attends and what attends to it, for one head's pattern. */
@Tag("loupe-token-attention")
@JsModule("./charts/loupe-token-attention.ts")
public class TokenAttention extends ChartComponent {

    /** pattern[q][k]: attention of query q on key k. */
    public void show(List<String> tokens, double[][] pattern) {
        ObjectNode o = newSpec();
        ArrayNode t = o.putArray("tokens");
        tokens.forEach(t::add);
        ArrayNode p = o.putArray("pattern");
        for (double[] row : pattern) {
            ArrayNode r = p.addArray();
            for (double v : row) r.add(Math.round(v * 1e4) / 1e4);
        }
        setSpec(o);
    }
}
