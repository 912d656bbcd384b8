package dev.loupe.e2e;

import com.microsoft.playwright.Page;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static dev.loupe.e2e.Explore.enc;

/**
 * The screenshots of docs/images: every explorer view of the default model (brown-6l) at 1400 × 1000 with a prompt
 * of ordinary prose over 200 tokens. Opt-in (it asserts only that every view draws without a console error):
 * {@code -Dloupe.docs.screenshots=DIR} writes DIR/explorer-VIEW.png.
 */
@EnabledIfSystemProperty(named = "loupe.docs.screenshots", matches = ".+")
class DocScreenshotsTest extends BrowserTest {
    static final String MODEL = "brown-6l";
    /** A paragraph of plain prose (about 215 GPT-2 tokens with BOS), with a repeated name for the attention views. */
    static final String TEXT = "The old house at the end of the road had been empty for many years. In the summer of that year a young "
            + "teacher named Mary Walker came to the town and bought it for very little money. The people of the town said that "
            + "she was foolish, because the roof was broken and the garden was full of weeds. Mary did not listen to them. Every "
            + "morning she worked on the house before school, and every evening she worked on it after school. By the end of the "
            + "summer the roof was whole again and the garden was green. In the autumn the children of the town began to visit "
            + "her after their lessons. They helped her to paint the walls and to plant the trees, and she told them stories about "
            + "the places she had seen. When the winter came, the house was warm and full of light, and the people of the town "
            + "no longer said that Mary Walker was foolish. They said that the house had been waiting for her, and that it "
            + "was glad she had come. In the spring Mary Walker planted roses by the door of the old house, and the";

    private static String path(String view, String query) { return "/model/" + MODEL + "/" + view + "?" + query; }

    /** Opens a view and waits until every chart of its results is drawn (or, for a page without results, it is loaded). */
    private void shoot(String name, String path, Path dir) throws Exception {
        page.navigate(app.url(path), new Page.NavigateOptions().setTimeout(180_000));
        // the view's frame is there and its charts are drawn (the lens: its first window)
        page.waitForFunction("() => document.querySelector('#explorer-nav a') && (!document.querySelector('#results') || ("
                        + "!document.querySelector('#results vaadin-progress-bar:not([hidden])')"
                        + " && [...document.querySelectorAll('loupe-heatmap, loupe-bars, loupe-lines, loupe-series, loupe-head-grid')].every(e => e.dataset.rendered)"
                        + "))",
                null, new Page.WaitForFunctionOptions().setTimeout(300_000));
        page.waitForTimeout(500); // the charts' entry animation
        page.screenshot(new Page.ScreenshotOptions().setPath(dir.resolve("explorer-" + name + ".png")));
    }

    @Test
    void everyViewOfTheDefaultModel() throws Exception {
        Path dir = Files.createDirectories(Path.of(System.getProperty("loupe.docs.screenshots")));
        page.setViewportSize(1400, 1000);
        String q = "text=" + enc(TEXT);
        Map<String, String> views = new LinkedHashMap<>();
        views.put("model", "/model/" + MODEL);
        views.put("prompt", path("prompt", q));
        views.put("long-lens", path("lens", q));
        views.put("long-attention", path("attention", q + "&layer=3&head=1"));
        views.put("all-heads", path("heads", q));
        views.put("dla", path("dla", q + "&a=" + enc("·Mary") + "&b=" + enc("·the")));
        views.put("generate", path("generate", q + "&maxNew=20"));
        views.put("compare", path("compare", "metric=loss&prompts=" + enc(String.join("\n",
                "The old house at the end of the road had been empty for many years.",
                "The new house at the end of the road had been empty for many years.",
                "The old house at the end of the road had been full for many years.",
                "In the summer of that year a young teacher came to the town."))));
        views.put("detectors", path("detectors", "length=100"));
        views.put("weights", path("weights", "layer=1&head=2"));
        for (var v : views.entrySet()) shoot(v.getKey(), v.getValue(), dir);
    }
}
