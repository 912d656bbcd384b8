package dev.loupe.ui.circuits;

import com.vaadin.flow.component.ComponentEvent;
import com.vaadin.flow.component.DomEvent;
import com.vaadin.flow.component.EventData;
import com.vaadin.flow.component.Tag;
import com.vaadin.flow.component.dependency.JsModule;
import com.vaadin.flow.component.dependency.NpmPackage;
import com.vaadin.flow.shared.Registration;
import dev.loupe.ui.charts.ChartComponent;

/** The circuit graph (Cytoscape, laid out by layer); its TypeScript is frontend/circuits/loupe-circuit-graph.ts. */
@Tag("loupe-circuit-graph")
@NpmPackage(value = "cytoscape", version = "3.34.4")
@JsModule("./circuits/loupe-circuit-graph.ts")
public class CircuitGraph extends ChartComponent {
    public CircuitGraph() { setWidthFull(); }

    @DomEvent("node-click")
    public static class NodeClick extends ComponentEvent<CircuitGraph> {
        private final String node;

        public NodeClick(CircuitGraph source, boolean fromClient, @EventData("event.detail.id") String node) {
            super(source, fromClient);
            this.node = node;
        }

        public String node() { return node; }
    }

    public Registration addNodeClickListener(com.vaadin.flow.component.ComponentEventListener<NodeClick> l) {
        return addListener(NodeClick.class, l);
    }

    /** Downloads the graph as "png" or "svg". */
    public void export(String kind, String fileName) { getElement().callJsFunction("exportImage", kind, fileName); }
}
