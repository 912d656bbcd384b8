package dev.loupe.ui.neurons;

import com.fasterxml.jackson.databind.JsonNode;
import com.vaadin.flow.component.html.Div;
import org.jsoup.nodes.Entities;

import java.util.Locale;

/**
 * A run of tokens, each coloured by a neuron's activation (red up to the neuron's maximum, blue for negative values),
 * its value in the hover title. Whitespace is kept as written.
 */
final class TokenStrip {
    private TokenStrip() {
    }

    /** The strip as one element. */
    static Div of(JsonNode text, JsonNode acts, int firstIndex, int highlight, double max) {
        return html(html(text, acts, firstIndex, highlight, max));
    }

    /**
     * The strip as HTML: the page writes its tokens as markup inside one element instead of one server-side
     * component per token (a page shows hundreds; each component costs server state and a client DOM update).
     */
    static String html(JsonNode text, JsonNode acts, int firstIndex, int highlight, double max) {
        StringBuilder sb = new StringBuilder("<div class=\"token-strip\" style=\"font-family:monospace;white-space:pre-wrap;line-height:1.7;"
                + "font-size:var(--lumo-font-size-s)\">");
        for (int i = 0; i < text.size(); i++) {
            double a = acts.get(i).asDouble();
            String t = text.get(i).asText();
            boolean top = firstIndex + i == highlight;
            sb.append("<span class=\"tok").append(top ? " tok-max" : "").append("\" title=\"")
                    .append(Entities.escape(String.format(Locale.ROOT, "%s: %.4f", t.replace("\n", "\\n"), a)))
                    .append(String.format(Locale.ROOT, "\" data-act=\"%.6g\" style=\"background-color:%s;border-radius:2px;padding:0 1px%s\">",
                            a, colour(a, max), top ? ";outline:2px solid #222" : ""))
                    .append(Entities.escape(t)).append("</span>");
        }
        return sb.append("</div>").toString();
    }

    /** A div whose content is the given markup (built here from escaped text only). */
    static Div html(String markup) {
        Div d = new Div();
        d.getElement().setProperty("innerHTML", markup);
        return d;
    }

    /** Transparent at 0, full red at {@code max}; negative values blue. */
    static String colour(double a, double max) {
        double f = max > 0 ? Math.max(-1, Math.min(1, a / max)) : 0;
        if (f >= 0) return String.format(Locale.ROOT, "rgba(220, 40, 30, %.3f)", 0.85 * f);
        return String.format(Locale.ROOT, "rgba(40, 90, 220, %.3f)", -0.85 * f * 4 > 0.85 ? 0.85 : -0.85 * f * 4);
    }

    /** A histogram as inline SVG: bars over [lo, hi], an optional marker at {@code mark}. */
    static String histogram(JsonNode counts, double lo, double hi, Double mark, int width, int height, String colour) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "<svg width='%d' height='%d' viewBox='0 0 %d %d'>", width, height + 16, width, height + 16));
        double maxLog = 0;
        for (JsonNode c : counts) maxLog = Math.max(maxLog, Math.log1p(c.asDouble()));
        int n = counts.size();
        double bw = width / (double) n;
        for (int i = 0; i < n; i++) {
            double h = maxLog > 0 ? Math.log1p(counts.get(i).asDouble()) / maxLog * height : 0;
            sb.append(String.format(Locale.ROOT, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='%s'><title>%.3g … %.3g: %d</title></rect>",
                    i * bw, height - h, Math.max(1, bw - 1), h, colour, lo + (hi - lo) * i / n, lo + (hi - lo) * (i + 1) / n, counts.get(i).asLong()));
        }
        if (mark != null && hi > lo) {
            double x = Math.max(0, Math.min(width, (mark - lo) / (hi - lo) * width));
            sb.append(String.format(Locale.ROOT, "<line class='mark' x1='%.1f' x2='%.1f' y1='0' y2='%d' stroke='#111' stroke-width='2' stroke-dasharray='4 2'/>", x, x, height));
        }
        sb.append(String.format(Locale.ROOT, "<text x='0' y='%d' font-size='11'>%.3g</text><text x='%d' y='%d' font-size='11' text-anchor='end'>%.3g</text></svg>",
                height + 13, lo, width, height + 13, hi));
        return sb.toString();
    }
}
