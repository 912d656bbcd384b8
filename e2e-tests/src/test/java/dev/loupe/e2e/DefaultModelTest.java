package dev.loupe.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.loupe.e2e.Explore.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The repository's default model shows what the tutorials show first: the head detectors view finds an induction
 * head (score ≥ 0.4 on repeated random tokens, as its card says), and the page draws the same number.
 */
class DefaultModelTest extends BrowserTest {
    static final String MODEL = "brown-6l-v8";

    @Test
    void detectorsViewFindsAnInductionHead() {
        String def = null;
        for (JsonNode c : get(app, "/q/health/ready").get("checks"))
            if (c.get("name").asText().equals("default model")) def = c.get("data").get("model").asText();
        assertEquals(MODEL, def, "the default model");

        JsonNode r = get(app, "/api/v1/models/" + MODEL + "/detectors?length=25&batch=16&seed=1").get("result");
        double best = -1;
        int bl = -1, bh = -1;
        JsonNode ind = r.get("induction");
        for (int l = 0; l < ind.size(); l++)
            for (int h = 0; h < ind.get(l).size(); h++)
                if (ind.get(l).get(h).asDouble() > best) {
                    best = ind.get(l).get(h).asDouble();
                    bl = l;
                    bh = h;
                }
        assertTrue(best >= 0.4, "best induction score " + best + " (head " + bl + "." + bh + ")");

        page.navigate(app.url("/model/" + MODEL + "/detectors?length=25&batch=16&seed=1"));
        List<String> texts = chartTexts("#detector-induction");
        assertTrue(texts.contains(f2(best)), "the chart shows head " + bl + "." + bh + "'s " + f2(best) + ": " + texts);
        screenshot("default-model-detectors");
    }
}
