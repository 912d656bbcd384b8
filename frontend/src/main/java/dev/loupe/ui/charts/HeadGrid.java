package dev.loupe.ui.charts;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.vaadin.flow.component.ComponentEvent;
import com.vaadin.flow.component.ComponentEventListener;
import com.vaadin.flow.component.DomEvent;
import com.vaadin.flow.component.EventData;
import com.vaadin.flow.component.Tag;
import com.vaadin.flow.component.dependency.JsModule;
import com.vaadin.flow.shared.Registration;

import java.util.Base64;

/**
 * Attention patterns of many heads as thumbnails drawn on canvases (one byte per cell of the causal half, so a full
 * context of every head travels as about a megabyte); optionally a large preview of the hovered or clicked head.
 */
@Tag("loupe-head-grid")
@JsModule("./charts/loupe-head-grid.ts")
public class HeadGrid extends ChartComponent {

    /** Fired when a head is clicked. */
    @DomEvent("head-click")
    public static class HeadClickEvent extends ComponentEvent<HeadGrid> {
        private final int layer, head;

        public HeadClickEvent(HeadGrid source, boolean fromClient,
                              @EventData("event.detail.layer") int layer, @EventData("event.detail.head") int head) {
            super(source, fromClient);
            this.layer = layer;
            this.head = head;
        }

        public int layer() { return layer; }
        public int head() { return head; }
    }

    private final ObjectNode spec = newSpec();
    private final ArrayNode heads = spec.putArray("heads");

    public HeadGrid(int n, boolean preview) {
        setWidthFull();
        spec.put("n", n);
        spec.put("preview", preview);
    }

    /**
     * Adds a head's pattern [query][key]: its causal half only (row q's keys 0..q, n(n+1)/2 bytes; the keys after a
     * query are always 0), half what the whole square would send.
     */
    public HeadGrid add(int layer, int head, String label, float[][] pattern) {
        int n = pattern.length;
        byte[] b = new byte[n * (n + 1) / 2];
        for (int q = 0, i = 0; q < n; q++)
            for (int k = 0; k <= q; k++) b[i++] = (byte) Math.round(Math.min(1, Math.max(0, pattern[q][k])) * 255);
        heads.addObject().put("layer", layer).put("head", head).put("label", label).put("pattern", Base64.getEncoder().encodeToString(b));
        return this;
    }

    public HeadGrid select(int layer, int head) {
        spec.put("selected", layer + "." + head);
        return this;
    }

    /** Sends the heads added so far to the browser. */
    public void draw() { setSpec(spec); }

    public Registration addHeadClickListener(ComponentEventListener<HeadClickEvent> l) {
        return addListener(HeadClickEvent.class, l);
    }
}
