package dev.loupe.ui.explorer;

import com.vaadin.flow.component.html.Div;
import org.jsoup.nodes.Entities;

import java.util.List;

/**
 * A plain table written as escaped markup into one element: a table of a few hundred cells as server-side elements
 * costs a state node per cell and a noticeable part of a second for the browser to apply; as markup it is one property.
 */
final class MarkupTable {
    private static final String CELL = "padding:2px 10px 2px 0;white-space:pre;font-family:var(--lumo-font-family)";
    private final StringBuilder html = new StringBuilder();

    MarkupTable(String id, List<String> headers) {
        html.append("<table id=\"").append(Entities.escape(id))
                .append("\" style=\"border-collapse:collapse;font-size:var(--lumo-font-size-s);margin:4px 0 10px\"><tr>");
        for (String h : headers)
            html.append("<th style=\"text-align:left;padding:2px 10px 2px 0;border-bottom:1px solid var(--lumo-contrast-20pct)\">")
                    .append(Entities.escape(h)).append("</th>");
        html.append("</tr>");
    }

    MarkupTable row(String... cells) {
        html.append("<tr>");
        for (String c : cells) html.append("<td style=\"").append(CELL).append("\">").append(Entities.escape(c)).append("</td>");
        html.append("</tr>");
        return this;
    }

    /** The table inside a new div. */
    Div div() {
        Div d = new Div();
        d.getElement().setProperty("innerHTML", html + "</table>");
        return d;
    }
}
