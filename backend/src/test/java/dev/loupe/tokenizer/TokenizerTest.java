package dev.loupe.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class TokenizerTest {
    final Tokenizer gpt2 = Gpt2Tokenizer.get();

    @Test
    void gpt2IdsMatchGpt2() {
        assertArrayEquals(new int[]{15496, 995, 0}, gpt2.encode("Hello world!", false));
        assertArrayEquals(new int[]{50256, 15496, 995, 0}, gpt2.encode("Hello world!"));
        assertEquals("Hello world!", gpt2.decode(15496, 995, 0));
        assertEquals(50257, gpt2.vocabSize());
        assertEquals(50256, gpt2.bosId());
        assertArrayEquals(new int[]{15496, 50256, 995}, gpt2.encode("Hello<|endoftext|> world", false));
    }

    @Test
    void displayShowsPartialCharactersAsBytesAndWhitespaceOnRequest() {
        assertEquals(" world", gpt2.display(995));
        assertEquals("·world", gpt2.display(995, true));
        assertEquals("<|endoftext|>", gpt2.display(50256));
        // "é" is two bytes; byte-level BPE has tokens for single bytes such as 0xC3
        int[] ids = gpt2.encode("\u00e9\u00e9\u00e9\u00e9 \u6f22\u5b57", false);
        StringBuilder joined = new StringBuilder();
        for (int id : ids) joined.append(gpt2.display(id));
        assertTrue(joined.toString().contains("\u00e9") || joined.toString().contains("\\x"), joined.toString());
        int byteToken = -1;
        for (int id = 0; id < 256 && byteToken < 0; id++) if (gpt2.tokenBytes(id).length == 1 && (gpt2.tokenBytes(id)[0] & 0xff) == 0xC3) byteToken = id;
        assertTrue(byteToken >= 0);
        assertEquals("\\xC3", gpt2.display(byteToken));
        assertEquals("a↵→", TokenText.visibleWhitespace("a\n\t"));
        assertEquals("\u00e9\\xC3", TokenText.readable(new byte[]{(byte) 0xC3, (byte) 0xA9, (byte) 0xC3}));
    }

    @Test
    void labelsJoinACharacterSplitOverTokensAndMarkStrayBytes() {
        byte[] head = "\u982d".getBytes(java.nio.charset.StandardCharsets.UTF_8); // 頭: E9 A0 AD
        List<String> split = TokenText.labels(List.of(new byte[]{'a', (byte) 0xE9, (byte) 0xA0}, new byte[]{(byte) 0xAD, ' ', 'b'}));
        assertEquals(3, head.length);
        assertEquals(List.of("a\u982d(1/2)", "\u982d(2/2)·b"), split);
        assertEquals(List.of("a\u982d(1/2)", "\u982d(2/2) b"),
                TokenText.labels(List.of(new byte[]{'a', (byte) 0xE9, (byte) 0xA0}, new byte[]{(byte) 0xAD, ' ', 'b'}), false));
        // bytes that complete nothing: one mark per token, its bytes in order
        assertEquals(List.of("⟨E5 BE⟩", "x⟨C3⟩"), TokenText.labels(List.of(new byte[]{(byte) 0xE5, (byte) 0xBE}, new byte[]{'x', (byte) 0xC3})));
        // a character over three tokens; the tokenizer's own ids
        assertEquals(List.of("\u982d(1/3)", "\u982d(2/3)", "\u982d(3/3)"),
                TokenText.labels(List.of(new byte[]{head[0]}, new byte[]{head[1]}, new byte[]{head[2]})));
        int[] ids = gpt2.encode("\u982d\u982d x", false);
        List<String> labels = gpt2.labels(ids);
        assertEquals(ids.length, labels.size());
        assertEquals("·x", labels.get(labels.size() - 1));
        for (String l : labels.subList(0, labels.size() - 1)) assertTrue(l.matches("(\u982d(\\(\\d/\\d\\))?)+"), labels.toString());
    }

    @Test
    void outOfRangeIdsAreNamed() {
        var e = assertThrows(TokenizerException.class, () -> gpt2.decode(1, 50257));
        assertTrue(e.getMessage().contains("token id 50257 at position 1"), e.getMessage());
    }

    @Test
    void listTokenizerSplitsOnWhitespace() throws Exception {
        Tokenizer t = Tokenizers.fromSpec(new ObjectMapper().readTree("{\"type\":\"list\",\"vocab\":[\"<bos>\",\"a\",\"b\",\"=\",\"1\"]}"));
        assertEquals(5, t.vocabSize());
        assertEquals(0, t.bosId());
        assertArrayEquals(new int[]{0, 1, 3, 4}, t.encode("  a =\n1 "));
        assertArrayEquals(new int[]{2, 2}, t.encode("b b", false));
        assertEquals("a = 1", t.decode(1, 3, 4));
        assertEquals(List.of("<bos>", "b"), t.displayAll(new int[]{0, 2}, true));
        var e = assertThrows(TokenizerException.class, () -> t.encode("a c"));
        assertTrue(e.getMessage().contains("unknown token 'c'"), e.getMessage());
        assertEquals(-1, new ListTokenizer(List.of("x", "y")).bosId());
        assertArrayEquals(new int[]{1}, new ListTokenizer(List.of("x", "y")).encode("y"));
        assertThrows(IllegalArgumentException.class, () -> new ListTokenizer(List.of("x", "x")));
    }
}
