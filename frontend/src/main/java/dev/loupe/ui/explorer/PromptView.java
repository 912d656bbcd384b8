package dev.loupe.ui.explorer;

import com.vaadin.flow.component.grid.Grid;
import com.vaadin.flow.component.grid.GridVariant;
import com.vaadin.flow.component.html.Div;
import com.vaadin.flow.component.html.H3;
import com.vaadin.flow.component.html.Paragraph;
import com.vaadin.flow.component.textfield.TextArea;
import com.vaadin.flow.data.renderer.LitRenderer;
import com.vaadin.flow.router.Route;
import dev.loupe.analysis.Candidate;
import dev.loupe.analysis.Predictions;
import dev.loupe.service.Explorer;
import dev.loupe.tokenizer.ListTokenizer;
import dev.loupe.ui.MainLayout;
import dev.loupe.ui.charts.Bars;
import org.jsoup.nodes.Entities;

import java.util.List;

/**
 * A prompt's tokens with ids and visible whitespace, each token's loss as a colour over the text, and the top-10
 * next tokens at every position (the selected position also as bars).
 */
@Route(value = "model/:model/prompt", layout = MainLayout.class)
public class PromptView extends ExplorerPage {
    /** Up to this many positions the predictions grid shows all its rows; beyond, it scrolls. */
    static final int ALL_ROWS = 40;

    private TextArea prompt;

    public PromptView(Explorer explorer) {
        super(explorer);
    }

    @Override protected String route() { return "prompt"; }
    @Override protected String title() { return "Prompt"; }

    @Override
    protected void show() {
        prompt = startWithPrompt(this::run);
        body.add(row(prompt, runButton(this::run)));
        showResults(this::render);
    }

    private void run() {
        if (!validPrompt(prompt.getValue())) return;
        state.set("text", prompt.getValue(), "position", null);
        rerun();
    }

    private void render(Div out) {
        var answer = ask(explorer.promptQuery(model, state.get("text")));
        Predictions.Result r = answer.result();
        List<Predictions.Position> ps = r.positions();
        int selected = explorer.checkPosition(ps.stream().mapToInt(p -> p.token().id()).toArray(), state.getInt("position"));
        // token i's loss scores the prediction made at position i − 1; toy tasks train only from scoredAfter on
        int scoredAfter = explorer.scoredAfter(model);
        java.util.function.Predicate<Predictions.Position> scored = p -> p.loss() != null && p.position() - 1 >= scoredAfter;
        double meanLoss = ps.stream().filter(scored).mapToDouble(Predictions.Position::loss).average().orElse(Double.NaN);
        var tokenizer = explorer.tokenizer(model);
        boolean words = tokenizer instanceof ListTokenizer; // list vocabularies are words separated by spaces
        // byte-level pieces read as the characters they form together, stray bytes as ⟨E5 BE⟩ (as the other views show them)
        List<String> names = tokenizer.labels(ps.stream().mapToInt(p -> p.token().id()).toArray());
        java.util.function.Function<Candidate, String> name = c -> tokenizer.labels(c.id()).get(0);
        List<String> texts = tokenizer.labels(false, ps.stream().mapToInt(p -> p.token().id()).toArray());

        String lossLine = Double.isNaN(meanLoss) ? "no token of this prompt is scored" : "mean loss " + fmt(meanLoss) + " nats";
        if (scoredAfter > 0) lossLine += " (" + model + " was trained only on the predictions from position " + scoredAfter
                + " on; the losses of earlier tokens are not scored and are shown in grey)";
        out.add(new Paragraph(String.format(java.util.Locale.ROOT, "%d tokens · %s%s", ps.size(), lossLine,
                answer.cached() ? " · from the cache" : "")));

        // the tokens as chips (visible whitespace, id below) and the loss over the text are written as markup inside
        // one element each, not one server-side component per token: a full context is hundreds of tokens
        out.add(new H3("Tokens"));
        StringBuilder chipHtml = new StringBuilder();
        for (Predictions.Position p : ps) {
            chipHtml.append("<div class=\"token-chip\" data-pos=\"").append(p.position()).append("\" style=\"border:1px solid var(--lumo-contrast-20pct);"
                    + "border-radius:4px;padding:2px 6px;text-align:center;cursor:pointer")
                    .append(p.position() == selected ? ";background:var(--lumo-primary-color-10pct)" : "").append("\">")
                    .append("<span class=\"token\" style=\"font-family:monospace;white-space:pre\">").append(Entities.escape(names.get(p.position())))
                    .append("</span><span class=\"token-id\" style=\"display:block;font-size:var(--lumo-font-size-xxs);"
                            + "color:var(--lumo-secondary-text-color)\">").append(p.token().id()).append("</span></div>");
        }
        Div chips = new Div();
        chips.setId("tokens");
        chips.getStyle().set("display", "flex").set("flex-wrap", "wrap").set("gap", "4px");
        chips.getElement().setProperty("innerHTML", chipHtml.toString());
        String clickedChip = "event.target.closest('.token-chip') ? event.target.closest('.token-chip').dataset.pos : ''";
        chips.getElement().addEventListener("click", e -> {
            String pos = e.getEventData().getString(clickedChip);
            if (pos != null && !pos.isEmpty()) select(Integer.parseInt(pos));
        }).addEventData(clickedChip);
        out.add(chips);

        // the loss of each token as a colour over the text
        out.add(new H3("Loss over the text"));
        double maxLoss = ps.stream().filter(scored).mapToDouble(Predictions.Position::loss).max().orElse(1);
        StringBuilder lossHtml = new StringBuilder();
        for (Predictions.Position p : ps) {
            if (words && p.position() > 0) lossHtml.append("<span> </span>");
            String shown = p.position() == 0 || words ? p.token().token() : texts.get(p.position());
            if (scored.test(p)) {
                double w = Math.min(1, p.loss() / Math.max(1e-9, maxLoss));
                lossHtml.append(String.format(java.util.Locale.ROOT, "<span class=\"loss-token\" style=\"background:rgba(215, 48, 39, %.3f)\" title=\"%s\" data-loss=\"%s\">",
                        0.08 + 0.8 * w, Entities.escape(String.format(java.util.Locale.ROOT, "%s · id %d · loss %.3f · p %s",
                                names.get(p.position()), p.token().id(), p.loss(), pct(p.prob()))), fmt(p.loss())));
            } else {
                lossHtml.append("<span class=\"loss-token unscored\" style=\"color:var(--lumo-secondary-text-color)\" title=\"")
                        .append(Entities.escape(p.loss() == null ? "first token: no loss"
                                : String.format(java.util.Locale.ROOT, "not scored: %s was not trained on this prediction (loss %.3f)", model, p.loss())))
                        .append("\">");
            }
            lossHtml.append(Entities.escape(shown)).append("</span>");
        }
        Div text = new Div();
        text.setId("loss-text");
        text.getStyle().set("white-space", "pre-wrap").set("font-family", "monospace").set("line-height", "1.9");
        text.getElement().setProperty("innerHTML", lossHtml.toString());
        out.add(text, label("Red: higher loss (−log p of the token given the tokens before it); the darkest is " + fmt(maxLoss) + " nats."));

        // every position: token, loss, and the top-10 next tokens
        out.add(new H3("Predictions"));
        Grid<Predictions.Position> grid = new Grid<>();
        grid.setId("predictions");
        grid.addThemeVariants(GridVariant.LUMO_COMPACT, GridVariant.LUMO_ROW_STRIPES, GridVariant.LUMO_WRAP_CELL_CONTENT);
        grid.addColumn(Predictions.Position::position).setHeader("pos").setWidth("60px").setFlexGrow(0);
        grid.addColumn(p -> names.get(p.position())).setHeader("token").setAutoWidth(true).setFlexGrow(0);
        grid.addColumn(p -> p.token().id()).setHeader("id").setAutoWidth(true).setFlexGrow(0);
        grid.addColumn(p -> p.loss() == null ? "" : scored.test(p) ? fmt(p.loss()) : "(" + fmt(p.loss()) + ", not scored)")
                .setHeader("loss").setAutoWidth(true).setFlexGrow(0);
        grid.addColumn(p -> p.prob() == null ? "" : pct(p.prob())).setHeader("p(token)").setAutoWidth(true).setFlexGrow(0);
        // all ten candidates stay visible: lines break only between candidates (no-break space inside each);
        // a template renderer, so hundreds of rows cost no server-side components
        grid.addColumn(LitRenderer.<Predictions.Position>of(
                        "<span class='top-next' style='white-space: normal; font-family: monospace'>${item.next}</span>")
                .withProperty("next", p -> p.next().stream().map(c -> name.apply(c) + "\u00a0" + pct(c.prob()))
                        .collect(java.util.stream.Collectors.joining("\u2003 "))))
                .setHeader("top-10 next tokens").setFlexGrow(1);
        grid.setItems(ps);
        // a short prompt shows every row; a long one scrolls inside the grid, which then builds only the rows in view
        // (hundreds of rows built at once cost the browser most of a second, to show and again to leave the view)
        if (ps.size() <= ALL_ROWS) grid.setAllRowsVisible(true);
        else {
            grid.setHeight("520px");
            grid.scrollToIndex(Math.max(0, selected - 3));
        }
        grid.select(ps.get(selected));
        grid.addItemClickListener(e -> select(e.getItem().position()));
        out.add(grid);

        Predictions.Position sel = ps.get(selected);
        Bars bars = new Bars();
        bars.setId("next-bars");
        bars.showPercent("Next token after position " + selected + " (" + names.get(selected) + ")",
                sel.next().stream().map(name).toList(), sel.next().stream().mapToDouble(Candidate::prob).toArray());
        out.add(bars);
    }

    private void select(int pos) {
        state.set("position", pos);
        rerun();
    }
}
