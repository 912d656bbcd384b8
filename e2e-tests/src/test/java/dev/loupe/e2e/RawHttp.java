package dev.loupe.e2e;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.zip.GZIPInputStream;

/**
 * HTTP/1.1 over a plain socket, for requests that {@link java.net.http.HttpClient} refuses to send (a malformed
 * percent escape, {@code ..} segments, a 100 KB header): the bytes go out exactly as given.
 */
final class RawHttp {
    /** A response: status, headers (lower-case names) and the body, gunzipped when it came compressed. */
    record Response(int status, Map<String, String> headers, byte[] raw, String body) {
        String header(String name) { return headers.get(name.toLowerCase(Locale.ROOT)); }
    }

    private RawHttp() {}

    static Response send(int port, String method, String target, Map<String, String> headers, byte[] body) {
        try (Socket s = new Socket("localhost", port)) {
            s.setSoTimeout(120_000);
            StringBuilder head = new StringBuilder(method + " " + target + " HTTP/1.1\r\nHost: localhost:" + port + "\r\nConnection: close\r\n");
            for (var h : headers.entrySet()) head.append(h.getKey()).append(": ").append(h.getValue()).append("\r\n");
            // with a Transfer-Encoding header the body is sent as given (already chunked)
            if (body != null && !headers.containsKey("Transfer-Encoding")) head.append("Content-Length: ").append(body.length).append("\r\n");
            head.append("\r\n");
            OutputStream out = s.getOutputStream();
            out.write(head.toString().getBytes(StandardCharsets.UTF_8));
            if (body != null) {
                try {
                    out.write(body);
                } catch (IOException e) {
                    // the server may answer (413) and close before reading all of the body; read its answer
                }
            }
            out.flush();
            return read(s.getInputStream());
        } catch (IOException e) {
            throw new IllegalStateException(method + " " + abbreviate(target) + " failed: " + e.getMessage(), e);
        }
    }

    /** {@code body} as one chunk of the chunked transfer coding, then the last chunk. */
    static byte[] chunked(byte[] body) {
        byte[] size = (Integer.toHexString(body.length) + "\r\n").getBytes(StandardCharsets.US_ASCII);
        byte[] end = "\r\n0\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[size.length + body.length + end.length];
        System.arraycopy(size, 0, out, 0, size.length);
        System.arraycopy(body, 0, out, size.length, body.length);
        System.arraycopy(end, 0, out, size.length + body.length, end.length);
        return out;
    }

    static Response get(int port, String target) { return send(port, "GET", target, Map.of(), null); }

    private static Response read(InputStream in) throws IOException {
        byte[] all = in.readAllBytes();
        int end = indexOf(all, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        if (end < 0) throw new IOException("no complete response head in " + all.length + " bytes");
        String[] lines = new String(all, 0, end, StandardCharsets.ISO_8859_1).split("\r\n");
        int status = Integer.parseInt(lines[0].split(" ")[1]);
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int c = lines[i].indexOf(':');
            headers.put(lines[i].substring(0, c).trim().toLowerCase(Locale.ROOT), lines[i].substring(c + 1).trim());
        }
        byte[] raw = java.util.Arrays.copyOfRange(all, end + 4, all.length);
        if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) raw = dechunk(raw);
        byte[] body = "gzip".equalsIgnoreCase(headers.get("content-encoding"))
                ? new GZIPInputStream(new java.io.ByteArrayInputStream(raw)).readAllBytes() : raw;
        return new Response(status, headers, raw, new String(body, StandardCharsets.UTF_8));
    }

    private static byte[] dechunk(byte[] b) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int at = 0;
        while (at < b.length) {
            int eol = indexOf(java.util.Arrays.copyOfRange(b, at, b.length), new byte[]{'\r', '\n'});
            int size = Integer.parseInt(new String(b, at, eol, StandardCharsets.US_ASCII).split(";")[0].trim(), 16);
            if (size == 0) break;
            out.write(b, at + eol + 2, size);
            at += eol + 2 + size + 2;
        }
        return out.toByteArray();
    }

    private static int indexOf(byte[] a, byte[] p) {
        outer:
        for (int i = 0; i + p.length <= a.length; i++) {
            for (int j = 0; j < p.length; j++) if (a[i + j] != p[j]) continue outer;
            return i;
        }
        return -1;
    }

    static String abbreviate(String s) { return s.length() <= 120 ? s : s.substring(0, 117) + "..."; }
}
