package dev.loupe.hooks;

import dev.loupe.model.GptConfig;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class HookPointsTest {
    @Test
    void namesShapesAndOrder() {
        HookPoints h = HookPoints.of(GptConfig.small());
        assertEquals(2 + 12 * 18 + 2, h.all().size());
        assertEquals("hook_embed", h.names().get(0));
        assertEquals("blocks.0.hook_resid_pre", h.names().get(2));
        assertEquals("ln_final.hook_normalized", h.names().get(h.names().size() - 1));
        GptConfig c = GptConfig.small();
        assertArrayEquals(new int[]{2, 12, 7, 7}, h.get("blocks.3.attn.hook_pattern").shape(c, 2, 7));
        assertArrayEquals(new int[]{2, 7, 12, 64}, h.get("blocks.3.attn.hook_z").shape(c, 2, 7));
        assertArrayEquals(new int[]{2, 7, 12, 768}, h.get("blocks.3.attn.hook_result").shape(c, 2, 7));
        assertArrayEquals(new int[]{2, 7, 3072}, h.get("blocks.11.mlp.hook_post").shape(c, 2, 7));
        assertArrayEquals(new int[]{2, 7, 1}, h.get("ln_final.hook_scale").shape(c, 2, 7));
        assertEquals(12, h.get("ln_final.hook_scale").layer());
        assertEquals(-1, h.get("hook_pos_embed").layer());
    }

    @Test
    void attentionOnlyBlocksHaveNoMlpHooks() {
        HookPoints h = HookPoints.of(new GptConfig(2, 2, 8, 0, 10, 20, true, 1e-5));
        assertFalse(h.contains("blocks.0.ln2.hook_scale"));
        assertFalse(h.contains("blocks.0.mlp.hook_post"));
        assertFalse(h.contains("blocks.0.hook_resid_mid"));
        assertTrue(h.contains("blocks.1.hook_resid_post"));
    }

    @Test
    void filtering() {
        HookPoints h = HookPoints.of(new GptConfig(12, 2, 8, 32, 10, 20));
        assertEquals(12, h.matchingRegex("hook_pattern").size());
        assertEquals(18, h.matchingRegex("^blocks\\.1\\.").size());
        assertEquals(2, h.matching(n -> n.startsWith("ln_final")).size());
        var e = assertThrows(IllegalArgumentException.class, () -> h.matchingRegex("hook_nothing"));
        assertTrue(e.getMessage().contains("no hook matches 'hook_nothing'"));
        assertThrows(IllegalArgumentException.class, () -> h.matchingRegex("(["));
    }
}
