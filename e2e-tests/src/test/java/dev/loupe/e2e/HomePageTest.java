package dev.loupe.e2e;

import com.microsoft.playwright.Locator;
import org.junit.jupiter.api.Test;

import static com.microsoft.playwright.assertions.PlaywrightAssertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HomePageTest extends BrowserTest {

    @Test
    void listsModelsWithTheirShapeAndMarksBrokenFolders() {
        page.navigate(app.url("/"));
        Locator grid = page.locator("vaadin-grid#models");
        assertThat(grid).isVisible();
        // the placeholder model: name and its config values appear in the grid's cells
        Locator placeholder = page.locator("vaadin-grid-cell-content").filter(
                new Locator.FilterOptions().setHasText("placeholder-tiny"));
        assertThat(placeholder.first()).isVisible();
        assertThat(page.locator("vaadin-grid-cell-content", new com.microsoft.playwright.Page.LocatorOptions()
                .setHasText("unavailable: corrupt manifest.json")).first()).isVisible();
        String cells = String.join("|", page.locator("vaadin-grid-cell-content").allInnerTexts());
        assertTrue(cells.contains(LoupeApp.BROKEN_MODEL), cells);
        screenshot("home");

        // clicking a row opens its model card
        placeholder.first().click();
        assertThat(page.getByText("has seen no data").first()).isVisible();
        screenshot("home-card");
    }
}
