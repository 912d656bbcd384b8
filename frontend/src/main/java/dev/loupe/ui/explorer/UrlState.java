package dev.loupe.ui.explorer;

import com.vaadin.flow.component.Composite;
import com.vaadin.flow.component.UI;
import com.vaadin.flow.component.button.Button;
import com.vaadin.flow.component.button.ButtonVariant;
import com.vaadin.flow.component.icon.VaadinIcon;
import com.vaadin.flow.component.notification.Notification;
import com.vaadin.flow.component.notification.NotificationVariant;
import com.vaadin.flow.router.Location;
import com.vaadin.flow.router.QueryParameters;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A view's state as its URL: the path names the model and the view, the query string holds the rest (prompt,
 * layer, head, tokens, position). {@link #set} writes a value and replaces the browser's URL, so the address bar
 * is always a link to what is shown; the button copies it.
 */
public class UrlState extends Composite<Button> {
    private String path = "";
    private final Map<String, String> values = new LinkedHashMap<>();

    public UrlState() {
        Button copy = getContent();
        copy.setText("Copy link");
        copy.setIcon(VaadinIcon.LINK.create());
        copy.addThemeVariants(ButtonVariant.LUMO_TERTIARY);
        copy.setId("copy-link");
        copy.addClickListener(e -> copyLink());
    }

    /** Reads the state from the location being entered. */
    public void read(Location location) {
        path = location.getPath();
        values.clear();
        location.getQueryParameters().getParameters().forEach((k, v) -> {
            if (!v.isEmpty()) values.put(k, v.get(0));
        });
        // "pos" is the old name of "position" (the REST parameter); links with it still work
        String pos = values.remove("pos");
        if (pos != null) values.putIfAbsent("position", pos);
    }

    public String get(String key) { return values.get(key); }

    public String get(String key, String fallback) { return values.getOrDefault(key, fallback); }

    public Integer getInt(String key) {
        String v = values.get(key);
        if (v == null || v.isBlank()) return null;
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + key + "' must be a whole number, got '" + v + "'");
        }
    }

    /** Sets values (null removes one) and writes the URL. */
    public void set(Object... keyValues) {
        for (int i = 0; i < keyValues.length; i += 2) {
            String k = (String) keyValues[i];
            Object v = keyValues[i + 1];
            if (v == null || v.toString().isEmpty()) values.remove(k);
            else values.put(k, v.toString());
        }
        UI.getCurrent().getPage().getHistory().replaceState(null, location());
    }

    public Location location() {
        Map<String, List<String>> q = new LinkedHashMap<>();
        values.forEach((k, v) -> q.put(k, List.of(v)));
        return new Location(path, new QueryParameters(q));
    }

    /** The path and query of the current state, e.g. {@code model/m/attention?text=Hi&layer=1}. */
    public String link() { return location().getPathWithQueryParameters(); }

    private void copyLink() {
        getElement().executeJs("""
                const url = window.location.href;
                const fallback = () => {
                  const t = document.createElement('textarea');
                  t.value = url; document.body.appendChild(t); t.select();
                  try { document.execCommand('copy'); } catch (e) { /* nothing more to try */ }
                  t.remove();
                };
                if (navigator.clipboard && window.isSecureContext) {
                  return navigator.clipboard.writeText(url).then(() => url, () => { fallback(); return url; });
                }
                fallback();
                return url;""").then(String.class, url -> {
            Notification n = Notification.show("Link copied: " + url, 3000, Notification.Position.BOTTOM_START);
            n.addThemeVariants(NotificationVariant.LUMO_SUCCESS);
        });
    }
}
