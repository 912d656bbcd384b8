package dev.loupe.circuits;

import dev.loupe.model.GptConfig;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EdgeGraphTest {
    @Test void gpt2SmallHas32491Edges() {
        EdgeGraph g = new EdgeGraph(GptConfig.small());
        assertEquals(32_491, g.edgeCount());
        assertEquals(1 + 12 * 13, g.senderCount());
        assertEquals(12 * 37 + 1, g.receiverCount());
    }

    @Test void attentionOnlyModelsHaveNoMlpNodes() {
        EdgeGraph g = new EdgeGraph(new GptConfig(2, 4, 128, 0, 64, 256, true, 1e-5));
        assertEquals(81, g.edgeCount());
        assertFalse(g.senders().contains("m0"));
        assertFalse(g.receivers().contains("m1"));
    }

    @Test void namesRoundTripAndFollowTheDesign() {
        EdgeGraph g = new EdgeGraph(GptConfig.small());
        for (int e = 0; e < g.edgeCount(); e += 97) assertEquals(e, g.parseEdge(g.edgeName(e)));
        assertTrue(g.edgeName(g.parseEdge("a0.h2->a1.h3<k>")).equals("a0.h2->a1.h3<k>"));
        g.parseEdge("a3.h1->m3");          // an MLP reads the heads of its own layer
        g.parseEdge("m11->logits");
        assertThrows(IllegalArgumentException.class, () -> g.parseEdge("a1.h0->a1.h2<q>"));
        assertThrows(IllegalArgumentException.class, () -> g.parseEdge("m1->m1"));
        assertThrows(IllegalArgumentException.class, () -> g.parseEdge("a0.h12->logits"));
        assertThrows(IllegalArgumentException.class, () -> g.parseEdge("logits"));
    }
}
