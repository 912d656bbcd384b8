package dev.loupe.ui.explorer;

import com.vaadin.flow.component.grid.Grid;
import com.vaadin.flow.component.grid.GridVariant;
import com.vaadin.flow.component.html.Div;
import com.vaadin.flow.component.html.H3;
import com.vaadin.flow.component.html.Paragraph;
import com.vaadin.flow.component.html.Span;
import com.vaadin.flow.component.textfield.TextArea;
import com.vaadin.flow.data.renderer.ComponentRenderer;
import com.vaadin.flow.router.Route;
import dev.loupe.analysis.Candidate;
import dev.loupe.analysis.Predictions;
import dev.loupe.service.Explorer;
import dev.loupe.ui.MainLayout;
import dev.loupe.ui.charts.Bars;

import java.util.List;
import java.util.stream.Collectors;

/**
 * A prompt's tokens with ids and visible whitespace, each token's loss as a colour over the text, and the top-10
 * next tokens at every position (the selected position also as bars).
 */
@Route(value = "model/:model/prompt", layout = MainLayout.class)
public class PromptView extends ExplorerPage {
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
        state.set("text", prompt.getValue(), "pos", null);
        rerun();
    }

    private void render(Div out) {
        var answer = ask(explorer.promptQuery(model, state.get("text")));
        Predictions.Result r = answer.result();
        List<Predictions.Position> ps = r.positions();
        int selected = explorer.checkPosition(ps.stream().mapToInt(p -> p.token().id()).toArray(), state.getInt("pos"));

        out.add(new Paragraph(String.format(java.util.Locale.ROOT, "%d tokens · mean loss %s nats%s", ps.size(),
                r.meanLoss() == null ? "–" : fmt(r.meanLoss()), answer.cached() ? " · from the cache" : "")));

        // the tokens as chips: visible whitespace, id below
        out.add(new H3("Tokens"));
        Div chips = new Div();
        chips.setId("tokens");
        chips.getStyle().set("display", "flex").set("flex-wrap", "wrap").set("gap", "4px");
        for (Predictions.Position p : ps) {
            Div chip = new Div();
            chip.addClassName("token-chip");
            chip.getElement().setAttribute("data-pos", String.valueOf(p.position()));
            chip.getStyle().set("border", "1px solid var(--lumo-contrast-20pct)").set("border-radius", "4px")
                    .set("padding", "2px 6px").set("text-align", "center").set("cursor", "pointer")
                    .set("background", p.position() == selected ? "var(--lumo-primary-color-10pct)" : "");
            Span tok = new Span(p.token().token());
            tok.addClassName("token");
            tok.getStyle().set("font-family", "monospace").set("white-space", "pre");
            Span id = new Span(String.valueOf(p.token().id()));
            id.addClassName("token-id");
            id.getStyle().set("display", "block").set("font-size", "var(--lumo-font-size-xxs)").set("color", "var(--lumo-secondary-text-color)");
            chip.add(tok, id);
            int pos = p.position();
            chip.addClickListener(e -> select(pos));
            chips.add(chip);
        }
        out.add(chips);

        // the loss of each token as a colour over the text
        out.add(new H3("Loss over the text"));
        double maxLoss = ps.stream().filter(p -> p.loss() != null).mapToDouble(Predictions.Position::loss).max().orElse(1);
        Div text = new Div();
        text.setId("loss-text");
        text.getStyle().set("white-space", "pre-wrap").set("font-family", "monospace").set("line-height", "1.9");
        for (Predictions.Position p : ps) {
            Span s = new Span(p.position() == 0 ? p.token().token() : p.token().text());
            s.addClassName("loss-token");
            if (p.loss() != null) {
                double w = Math.min(1, p.loss() / Math.max(1e-9, maxLoss));
                s.getStyle().set("background", String.format(java.util.Locale.ROOT, "rgba(215, 48, 39, %.3f)", 0.08 + 0.8 * w));
                s.getElement().setAttribute("title", String.format(java.util.Locale.ROOT, "%s · id %d · loss %.3f · p %s",
                        p.token().token(), p.token().id(), p.loss(), pct(p.prob())));
                s.getElement().setAttribute("data-loss", fmt(p.loss()));
            } else {
                s.getStyle().set("color", "var(--lumo-secondary-text-color)");
                s.getElement().setAttribute("title", "BOS: no loss");
            }
            text.add(s);
        }
        out.add(text, label("Red: higher loss (−log p of the token given the tokens before it); the darkest is " + fmt(maxLoss) + " nats."));

        // every position: token, loss, and the top-10 next tokens
        out.add(new H3("Predictions"));
        Grid<Predictions.Position> grid = new Grid<>();
        grid.setId("predictions");
        grid.addThemeVariants(GridVariant.LUMO_COMPACT, GridVariant.LUMO_ROW_STRIPES);
        grid.addColumn(Predictions.Position::position).setHeader("pos").setWidth("60px").setFlexGrow(0);
        grid.addColumn(p -> p.token().token()).setHeader("token").setAutoWidth(true).setFlexGrow(0);
        grid.addColumn(p -> p.token().id()).setHeader("id").setAutoWidth(true).setFlexGrow(0);
        grid.addColumn(p -> p.loss() == null ? "" : fmt(p.loss())).setHeader("loss").setAutoWidth(true).setFlexGrow(0);
        grid.addColumn(p -> p.prob() == null ? "" : pct(p.prob())).setHeader("p(token)").setAutoWidth(true).setFlexGrow(0);
        grid.addColumn(new ComponentRenderer<>(p -> {
            Span s = new Span(p.next().stream().map(c -> c.token() + " " + pct(c.prob())).collect(Collectors.joining("   ")));
            s.getStyle().set("font-family", "monospace").set("white-space", "pre");
            return s;
        })).setHeader("top-10 next tokens").setFlexGrow(1);
        grid.setItems(ps);
        grid.setAllRowsVisible(true);
        grid.select(ps.get(selected));
        grid.addItemClickListener(e -> select(e.getItem().position()));
        out.add(grid);

        Predictions.Position sel = ps.get(selected);
        Bars bars = new Bars();
        bars.setId("next-bars");
        bars.show("Next token after position " + selected + " (" + sel.token().token() + ")",
                sel.next().stream().map(Candidate::token).toList(),
                sel.next().stream().mapToDouble(Candidate::prob).toArray(), "probability", false);
        out.add(bars);
    }

    private void select(int pos) {
        state.set("pos", pos);
        rerun();
    }
}
