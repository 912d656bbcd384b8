package dev.loupe.ui.explorer;

import com.vaadin.flow.component.Component;
import com.vaadin.flow.component.Key;
import com.vaadin.flow.component.UI;
import com.vaadin.flow.component.button.Button;
import com.vaadin.flow.component.button.ButtonVariant;
import com.vaadin.flow.component.html.Anchor;
import com.vaadin.flow.component.html.Div;
import com.vaadin.flow.component.html.H2;
import com.vaadin.flow.component.html.Paragraph;
import com.vaadin.flow.component.html.Span;
import com.vaadin.flow.component.notification.Notification;
import com.vaadin.flow.component.notification.NotificationVariant;
import com.vaadin.flow.component.orderedlayout.FlexComponent;
import com.vaadin.flow.component.orderedlayout.HorizontalLayout;
import com.vaadin.flow.component.orderedlayout.VerticalLayout;
import com.vaadin.flow.component.textfield.TextArea;
import com.vaadin.flow.component.textfield.TextField;
import com.vaadin.flow.router.BeforeEnterEvent;
import com.vaadin.flow.router.BeforeEnterObserver;
import com.vaadin.flow.router.HasDynamicTitle;
import com.vaadin.flow.router.QueryParameters;
import dev.loupe.api.ApiException;
import dev.loupe.jobs.Busy;
import dev.loupe.model.GptConfig;
import dev.loupe.service.Explorer;
import dev.loupe.tokenizer.ListTokenizer;
import dev.loupe.tokenizer.Tokenizer;
import dev.loupe.ui.UiClient;
import dev.loupe.ui.UiTimer;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;

/**
 * Frame of every explorer view: the model's name, links to the other views (carrying the prompt), the copy-link
 * button, and the view's state read from and written to the URL. Errors become a notification and a line in the
 * page.
 */
public abstract class ExplorerPage extends VerticalLayout implements BeforeEnterObserver, HasDynamicTitle {
    private static final Logger LOG = Logger.getLogger(ExplorerPage.class);

    /** The views, in the order of the navigation bar: route suffix and title. */
    static final List<String[]> VIEWS = List.of(
            new String[]{"", "Model"}, new String[]{"prompt", "Prompt"}, new String[]{"lens", "Logit lens"},
            new String[]{"attention", "Attention"}, new String[]{"heads", "All heads"}, new String[]{"dla", "Direct logit attribution"},
            new String[]{"generate", "Generate"}, new String[]{"compare", "Compare"},
            new String[]{"detectors", "Head detectors"}, new String[]{"patching", "Patching"}, new String[]{"circuits", "Circuits"},
            new String[]{"weights", "Weights"});

    protected final Explorer explorer;
    protected final UrlState state = new UrlState();
    protected String model;
    private final H2 heading = new H2();
    private final HorizontalLayout nav = new HorizontalLayout();
    protected final Div body = new Div();
    private final Paragraph error = new Paragraph();
    private ScheduledFuture<?> retry;

    protected ExplorerPage(Explorer explorer) {
        this.explorer = explorer;
        setWidthFull();
        heading.getStyle().set("margin", "0");
        nav.setId("explorer-nav");
        // the links get their own row and wrap between links, never inside one (a 1400 px window holds them all)
        nav.setSpacing(false);
        nav.setWidthFull();
        nav.getStyle().set("flex-wrap", "wrap").set("column-gap", "var(--lumo-space-m)").set("row-gap", "var(--lumo-space-xs)");
        HorizontalLayout top = new HorizontalLayout(heading, state);
        top.setDefaultVerticalComponentAlignment(FlexComponent.Alignment.BASELINE);
        top.setWidthFull();
        top.expand(heading);
        error.setId("error");
        error.getStyle().set("color", "var(--lumo-error-text-color)");
        error.setVisible(false);
        body.setWidthFull();
        add(top, nav, error, body);
    }

    /** Route suffix of this view ("" for the model page). */
    protected abstract String route();

    protected abstract String title();

    /** Builds the view's content from {@link #state}; called after every navigation. */
    protected abstract void show();

    @Override
    public String getPageTitle() { return "Loupe — " + title() + (model == null ? "" : " — " + model); }

    @Override
    public void beforeEnter(BeforeEnterEvent event) {
        model = event.getRouteParameters().get("model").orElse(null);
        state.read(event.getLocation());
        heading.setText(title() + (model == null ? "" : " · " + model));
        buildNav();
        error.setVisible(false);
        guarded(() -> {
            explorer.config(model); // unknown or unusable model: a clear message, nothing else
            show();
        });
    }

    private void buildNav() {
        nav.removeAll();
        for (String[] v : VIEWS) {
            Map<String, String> q = new LinkedHashMap<>();
            String text = state.get("text");
            if (text != null && !v[0].isEmpty() && !v[0].equals("detectors") && !v[0].equals("circuits") && !v[0].equals("patching")) q.put("text", text);
            Anchor a = new Anchor(link(model, v[0], q), v[1]);
            a.getElement().setAttribute("data-view", v[0].isEmpty() ? "model" : v[0]);
            a.getStyle().set("white-space", "nowrap");
            if (v[0].equals(route())) a.getStyle().set("font-weight", "bold");
            nav.add(a);
        }
    }

    /** A field for a token (its text, · for a space, or #id) holding the URL parameter {@code param}. */
    protected TextField tokenField(String label, String id, String param, String helper) {
        TextField t = new TextField(label);
        t.setId(id);
        if (helper != null) t.setHelperText(helper);
        t.setValue(state.get(param, ""));
        return t;
    }

    /** A link to a view of a model with query parameters. */
    public static String link(String model, String view, Map<String, String> query) {
        String path = "model/" + model + (view.isEmpty() ? "" : "/" + view);
        Map<String, List<String>> q = new LinkedHashMap<>();
        query.forEach((k, v) -> q.put(k, List.of(v)));
        String qs = new QueryParameters(q).getQueryString();
        return "/" + path + (qs.isEmpty() ? "" : "?" + qs);
    }

    /** The REST address of an endpoint of a model with query parameters (for JSON links beside a view). */
    public static String apiLink(String model, String endpoint, Map<String, String> query) {
        return "/api/v1" + link(model, endpoint, query).replaceFirst("^/model/", "/models/");
    }

    /** How long a page waits for a compute slot before it says "busy" and retries (it holds the page meanwhile). */
    static final Duration COMPUTE_WAIT = Duration.ofSeconds(3);

    /** Runs a query for this browser: from the cache, or computed when the scheduler admits it. */
    protected <T> Explorer.Answer<T> ask(Explorer.Query<T> query) {
        return explorer.answer(query, UiClient.current(), COMPUTE_WAIT);
    }

    /**
     * Runs an action; bad input (4xx) shows its message, anything else a generic one, instead of failing the page.
     * When the server is busy the page says so and shows itself again after the suggested wait.
     */
    protected boolean guarded(Runnable action) {
        try {
            action.run();
            return true;
        } catch (Busy e) {
            retryWhenFree(e);
        } catch (ApiException | IllegalArgumentException e) {
            fail(e.getMessage());
        } catch (RuntimeException e) {
            LOG.error("explorer view failed", e);
            fail("Something went wrong: " + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()));
        }
        return false;
    }

    /** Checks a typed prompt (empty, too long, unknown words) before it goes into the URL. */
    protected boolean validPrompt(String text) {
        return guarded(() -> explorer.tokenize(model, text));
    }

    /** Shows the view again from its (changed) state, clearing an earlier error. */
    protected void rerun() {
        error.setVisible(false);
        buildNav(); // the links carry the prompt just run

        guarded(this::show);
    }

    private void retryWhenFree(Busy busy) {
        error.setText("Busy, retrying in " + busy.retryAfterSeconds() + " s: " + busy.getMessage());
        error.setVisible(true);
        if (retry != null && !retry.isDone()) return;
        UI ui = ui();
        if (ui != null) retry = UiTimer.later(ui, Duration.ofSeconds(busy.retryAfterSeconds()), this::rerun);
    }

    /**
     * The page's UI, also while the view is being built for a navigation (before it is attached, when
     * {@code getUI()} is still empty): the request's UI then.
     */
    protected UI ui() {
        return getUI().orElseGet(UI::getCurrent);
    }

    protected void fail(String message) {
        error.setText(message);
        error.setVisible(true);
        Notification n = Notification.show(message, 6000, Notification.Position.TOP_CENTER);
        n.addThemeVariants(NotificationVariant.LUMO_ERROR);
    }

    /** Adds the results area below the controls and fills it, a failure shown as a notification (see {@link #guarded}). */
    protected void showResults(java.util.function.Consumer<Div> render) {
        Div results = new Div();
        results.setId("results");
        results.setWidthFull();
        body.add(results);
        guarded(() -> render.accept(results));
    }

    /** Clears the page body and returns the prompt box for the URL's text (a sample prompt when it has none). */
    protected TextArea startWithPrompt(Runnable run) {
        body.removeAll();
        if (state.get("text") == null) state.set("text", samplePrompt());
        return promptField(state.get("text"), run);
    }

    /** The model's BOS token as shown to users: <|endoftext|> for GPT-2's tokenizer. */
    protected String bosToken() {
        var tok = explorer.tokenizer(model);
        return tok.bosId() < 0 ? "no BOS token" : tok.display(tok.bosId());
    }

    /** A prompt box; Ctrl+Enter runs. */
    private TextArea promptField(String value, Runnable run) {
        var tok = explorer.tokenizer(model);
        TextArea t = new TextArea(tok.bosId() < 0 ? "Prompt (words of the vocabulary; the model has no BOS token, so none is prepended)"
                : "Prompt (" + bosToken() + " is prepended, as in TransformerLens)");
        t.setId("prompt");
        t.setValue(value == null ? "" : value);
        t.setWidthFull();
        t.setMaxHeight("8em");
        t.addKeyDownListener(Key.ENTER, e -> run.run(), com.vaadin.flow.component.KeyModifier.CONTROL);
        return t;
    }

    protected Button runButton(Runnable run) {
        Button b = new Button("Run", e -> run.run());
        b.setId("run");
        b.addThemeVariants(ButtonVariant.LUMO_PRIMARY);
        b.addClickShortcut(Key.ENTER);
        return b;
    }

    /** A sample prompt the model can tokenize: English for GPT-2's vocabulary, a few words of a word list. */
    protected String samplePrompt() {
        Tokenizer t = explorer.tokenizer(model);
        if (t instanceof ListTokenizer lt) {
            List<String> words = new ArrayList<>();
            for (String w : lt.vocab()) {
                if (w.equals("<bos>") || w.startsWith("<")) continue;
                words.add(w);
                if (words.size() == 6) break;
            }
            return String.join(" ", words);
        }
        return "When Mary and John went to the store, John gave a drink to";
    }

    protected GptConfig config() { return explorer.config(model); }

    protected static Span label(String text) {
        Span s = new Span(text);
        s.getStyle().set("color", "var(--lumo-secondary-text-color)").set("font-size", "var(--lumo-font-size-s)");
        return s;
    }

    protected static Component row(Component... c) {
        HorizontalLayout h = new HorizontalLayout(c);
        h.setDefaultVerticalComponentAlignment(FlexComponent.Alignment.BASELINE);
        h.setWidthFull();
        h.getStyle().set("flex-wrap", "wrap");
        return h;
    }

    static String fmt(double v) {
        return String.format(java.util.Locale.ROOT, Math.abs(v) >= 100 ? "%.1f" : "%.3f", v);
    }

    static String pct(double p) {
        if (p < 0.0005) return "<0.1%";
        return String.format(java.util.Locale.ROOT, p >= 0.0995 ? "%.0f%%" : "%.1f%%", p * 100);
    }
}
