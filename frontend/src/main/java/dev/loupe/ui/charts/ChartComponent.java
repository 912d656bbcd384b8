package dev.loupe.ui.charts;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.vaadin.flow.component.Component;
import com.vaadin.flow.component.HasSize;
import com.vaadin.flow.component.HasStyle;

/** A chart web component configured by a JSON spec (its TypeScript lives in frontend/src/main/frontend/charts). */
public abstract class ChartComponent extends Component implements HasSize, HasStyle {
    protected static final ObjectMapper JSON = new ObjectMapper();

    private ObjectNode spec = JSON.createObjectNode();

    public ObjectNode spec() { return spec; }

    /** Replaces the spec and redraws. */
    public void setSpec(ObjectNode spec) {
        this.spec = spec;
        try {
            getElement().setProperty("spec", JSON.writeValueAsString(spec));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    protected static ObjectNode newSpec() { return JSON.createObjectNode(); }
}
