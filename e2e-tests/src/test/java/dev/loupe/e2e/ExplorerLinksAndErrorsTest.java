package dev.loupe.e2e;

import com.microsoft.playwright.BrowserContext;
import com.microsoft.playwright.Locator;
import com.microsoft.playwright.Page;
import org.junit.jupiter.api.Test;

import java.util.regex.Pattern;

import static com.microsoft.playwright.assertions.PlaywrightAssertions.assertThat;
import static dev.loupe.e2e.Explore.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A view's state lives in its URL: a copied link opens the same view in a new browser. Bad input gets a message. */
class ExplorerLinksAndErrorsTest extends BrowserTest {

    @Test
    void aCopiedLinkOpensTheSameViewInANewBrowser() {
        page.navigate(app.url(view("attention", "text=" + enc(PROMPT) + "&layer=0&head=0")));
        page.locator("#head-grid .head-map[data-head='2']").click();
        page.waitForURL(Pattern.compile(".*head=2.*"));
        page.locator("#copy-link").click();
        Locator note = page.locator("vaadin-notification-card").filter(new Locator.FilterOptions().setHasText("Link copied"));
        assertThat(note).isVisible();
        String copied = note.innerText().replaceFirst("(?s).*Link copied: ", "").trim();
        assertEquals(page.url(), copied);
        assertTrue(copied.contains("layer=0") && copied.contains("head=2") && copied.contains("text="), copied);
        String labels = String.join("|", chartTexts("#pattern"));

        try (BrowserContext fresh = page.context().browser().newContext(new com.microsoft.playwright.Browser.NewContextOptions().setViewportSize(1400, 900))) {
            Page other = fresh.newPage();
            other.onConsoleMessage(m -> assertTrue(!"error".equals(m.type()), "console error: " + m.text()));
            other.navigate(copied);
            assertThat(other.locator("#results h3").first()).hasText("Head 0.2");
            assertThat(other.locator("#prompt textarea")).hasValue(PROMPT);
            assertThat(other.locator("#pattern")).hasAttribute("data-rendered", Pattern.compile("\\d+"));
            twoFrames(other);
            assertEquals(labels, String.join("|", other.locator("#pattern svg text").allTextContents()));
        }
        screenshot("explorer-copy-link");
    }

    @Test
    void everyViewKeepsItsStateInTheUrl() {
        String[][] cases = {
                {view("lens", "text=" + enc("Hello world") + "&token=" + enc("·the")), "#lens-token input", "·the"},
                {view("dla", "text=" + enc("Hello world") + "&pos=1&a=" + enc("·the")), "#token-a input", "·the"},
                {view("detectors", "length=12&batch=1&seed=9"), "#seed input", "9"},
                {view("prompt", "text=" + enc("Hello world") + "&pos=2"), "#prompt textarea", "Hello world"},
        };
        for (String[] c : cases) {
            page.navigate(app.url(c[0]));
            assertThat(page.locator(c[1])).hasValue(c[2]);
            assertEquals(app.url(c[0]), page.url());
        }
    }

    private void expectError(String path, String message) {
        page.navigate(app.url(path));
        Locator card = page.locator("vaadin-notification-card").filter(new Locator.FilterOptions().setHasText(message));
        assertThat(card.first()).isVisible();
        assertThat(page.locator("#error")).containsText(message);
    }

    @Test
    void badInputGetsAClearMessage() {
        expectError("/model/no-such-model/prompt?text=hi", "unknown model 'no-such-model'");
        expectError(view("attention", "text=hi&layer=5"), "layer 5 is out of range");
        expectError(view("attention", "text=hi&layer=1&head=9"), "head 9 is out of range");
        expectError(view("lens", "text=hi&token=" + enc("Parisxyz")), "unknown token 'Parisxyz'");
        expectError(view("prompt", "text=" + enc("word ".repeat(LoupeApp.MODEL_CONTEXT + 5))), "more than the context");
        expectError(view("dla", "text=hi&pos=9"), "position 9 is out of range");
        screenshot("explorer-error");

        // an empty prompt, typed into the page
        page.navigate(app.url(view("prompt", "text=" + enc("Hello world"))));
        page.locator("#prompt textarea").fill("");
        page.locator("#run").click();
        assertThat(page.locator("vaadin-notification-card").filter(new Locator.FilterOptions().setHasText("the prompt is empty")).first()).isVisible();
    }
}
