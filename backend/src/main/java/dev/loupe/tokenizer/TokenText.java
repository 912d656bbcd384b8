package dev.loupe.tokenizer;

/** Turns token bytes into strings a person can read. */
final class TokenText {
    private TokenText() {}

    /** Decodes whole UTF-8 characters; every other byte (a fragment of a character) is written {@code \xNN}. */
    static String readable(byte[] b) {
        StringBuilder sb = new StringBuilder(b.length);
        int i = 0;
        while (i < b.length) {
            int lead = b[i] & 0xff;
            int len = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xe ? 3 : (lead >> 3) == 0x1e ? 4 : 0;
            int cp = len == 1 ? lead : len == 2 ? lead & 0x1f : len == 3 ? lead & 0x0f : lead & 0x07;
            boolean ok = len > 0 && i + len <= b.length;
            for (int k = 1; ok && k < len; k++) {
                int c = b[i + k] & 0xff;
                if ((c >> 6) != 0x2) ok = false;
                else cp = (cp << 6) | (c & 0x3f);
            }
            // reject overlong forms and surrogates, which are not valid UTF-8 either
            if (ok && (len == 2 && cp < 0x80 || len == 3 && (cp < 0x800 || cp >= 0xd800 && cp <= 0xdfff) || len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
                ok = false;
            if (ok) {
                sb.appendCodePoint(cp);
                i += len;
            } else {
                sb.append(String.format("\\x%02X", lead));
                i++;
            }
        }
        return sb.toString();
    }

    static String visibleWhitespace(String s) {
        return s.replace(' ', '·').replace("\n", "↵").replace('\t', '→').replace("\r", "␍");
    }
}
