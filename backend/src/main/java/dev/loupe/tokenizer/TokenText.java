package dev.loupe.tokenizer;

import java.util.ArrayList;
import java.util.List;

/** Turns token bytes into strings a person can read. */
final class TokenText {
    private TokenText() {}

    /** Decodes whole UTF-8 characters; every other byte (a fragment of a character) is written {@code \xNN}. */
    static String readable(byte[] b) {
        StringBuilder sb = new StringBuilder(b.length);
        int i = 0;
        while (i < b.length) {
            int len = charLength(b, i);
            if (len > 0) {
                sb.append(new String(b, i, len, java.nio.charset.StandardCharsets.UTF_8));
                i += len;
            } else {
                sb.append(String.format("\\x%02X", b[i] & 0xff));
                i++;
            }
        }
        return sb.toString();
    }

    /**
     * Labels of a sequence of tokens, with visible whitespace: a character whose bytes are split over several tokens
     * is written in each of them with the piece it is ({@code 頭(1/2)}, {@code 頭(2/2)}); bytes that form no
     * character with their neighbours are written as one mark per token, {@code ⟨E5 BE⟩}.
     */
    static List<String> labels(List<byte[]> tokens) { return labels(tokens, true); }

    /** As {@link #labels(List)}; without {@code visibleWhitespace} the text keeps its spaces and newlines. */
    static List<String> labels(List<byte[]> tokens, boolean visibleWhitespace) {
        int total = 0;
        for (byte[] t : tokens) total += t.length;
        byte[] all = new byte[total];
        int[] owner = new int[total];
        int at = 0;
        for (int k = 0; k < tokens.size(); k++) {
            byte[] t = tokens.get(k);
            System.arraycopy(t, 0, all, at, t.length);
            java.util.Arrays.fill(owner, at, at + t.length, k);
            at += t.length;
        }
        List<StringBuilder> out = new ArrayList<>(tokens.size());
        for (int k = 0; k < tokens.size(); k++) out.add(new StringBuilder());
        boolean[] inMark = new boolean[tokens.size()];
        int i = 0;
        while (i < total) {
            int len = charLength(all, i);
            if (len == 0) {
                StringBuilder sb = out.get(owner[i]);
                String hex = String.format("%02X", all[i] & 0xff);
                if (inMark[owner[i]]) sb.insert(sb.length() - 1, " " + hex);
                else sb.append('⟨').append(hex).append('⟩');
                inMark[owner[i]] = true;
                i++;
                continue;
            }
            String c = new String(all, i, len, java.nio.charset.StandardCharsets.UTF_8);
            if (visibleWhitespace) c = visibleWhitespace(c);
            int first = owner[i], last = owner[i + len - 1];
            for (int k = first; k <= last; k++) {
                out.get(k).append(c);
                if (last > first) out.get(k).append('(').append(k - first + 1).append('/').append(last - first + 1).append(')');
                inMark[k] = false;
            }
            i += len;
        }
        return out.stream().map(StringBuilder::toString).toList();
    }

    /** The length of the valid UTF-8 character starting at {@code b[i]}, or 0 when none starts there. */
    private static int charLength(byte[] b, int i) {
        int lead = b[i] & 0xff;
        int len = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xe ? 3 : (lead >> 3) == 0x1e ? 4 : 0;
        if (len == 0 || i + len > b.length) return 0;
        int cp = len == 1 ? lead : len == 2 ? lead & 0x1f : len == 3 ? lead & 0x0f : lead & 0x07;
        for (int k = 1; k < len; k++) {
            int c = b[i + k] & 0xff;
            if ((c >> 6) != 0x2) return 0;
            cp = (cp << 6) | (c & 0x3f);
        }
        // overlong forms and surrogates are not valid UTF-8 either
        if (len == 2 && cp < 0x80 || len == 3 && (cp < 0x800 || cp >= 0xd800 && cp <= 0xdfff) || len == 4 && (cp < 0x10000 || cp > 0x10ffff))
            return 0;
        return len;
    }

    static String visibleWhitespace(String s) {
        return s.replace(' ', '·').replace("\n", "↵").replace('\t', '→').replace("\r", "␍");
    }
}
