package dev.loupe.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.microsoft.playwright.Download;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.List;

import static dev.loupe.e2e.Explore.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every chart exports its picture (PNG, SVG) and its numbers (CSV, JSON). */
class ExportTest extends BrowserTest {

    private byte[] export(String chart, String kind) throws Exception {
        Download d = page.waitForDownload(() -> page.locator(chart + " .chart-export a[data-export='" + kind + "']").click());
        assertTrue(d.suggestedFilename().endsWith("." + kind), d.suggestedFilename());
        return Files.readAllBytes(d.path());
    }

    @Test
    void chartsExportPicturesAndNumbers() throws Exception {
        String q = "text=" + enc(PROMPT) + "&a=" + enc("·mat") + "&b=" + enc("·cat");
        JsonNode r = get(app, api("dla", q)).get("result");
        page.navigate(app.url(view("dla", q)));
        chart("#dla-heads", "c => 1");
        List<String> csv = List.of(new String(export("#dla-heads", "csv")).split("\n"));
        assertEquals("layer \\ head,H0,H1,H2,H3", csv.get(0));
        String[] l1 = csv.get(2).split(",");
        assertEquals("L1", l1[0]);
        assertEquals(r.get("heads").get(1).get(3).asDouble(), Double.parseDouble(l1[4]), 1e-6);
        JsonNode json = JSON.readTree(export("#dla-heads", "json"));
        assertEquals(r.get("heads").get(0).get(2).asDouble(), json.get("values").get(0).get(2).asDouble(), 1e-6);
        assertTrue(new String(export("#dla-heads", "svg")).contains("<svg"));
        byte[] png = export("#dla-bars", "png");
        assertEquals((byte) 0x89, png[0]);
        assertEquals("PNG", new String(png, 1, 3));
        // a canvas chart (the attention pattern of a long prompt) still exports SVG
        page.navigate(app.url(view("attention", "text=" + enc("word ".repeat(60)) + "&layer=0&head=1")));
        chart("#pattern", "c => 1");
        assertTrue(new String(export("#pattern", "svg")).contains("<svg"));
    }
}
