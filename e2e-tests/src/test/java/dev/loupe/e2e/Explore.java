package dev.loupe.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Helpers shared by the explorer's tests: URLs of views and endpoints, and the API's answers. */
final class Explore {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String PROMPT = "The cat sat on the mat. The cat sat on the";

    private Explore() {}

    static String enc(String s) { return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20"); }

    static String view(String view, String query) { return "/model/" + LoupeApp.MODEL + "/" + view + (query.isEmpty() ? "" : "?" + query); }

    static String api(String endpoint, String query) { return "/api/v1/models/" + LoupeApp.MODEL + "/" + endpoint + "?" + query; }

    /** The API's JSON answer (status 200 expected). */
    static JsonNode get(LoupeApp app, String path) {
        HttpResponse<String> r = app.get(path);
        assertEquals(200, r.statusCode(), r.body());
        try {
            return JSON.readTree(r.body());
        } catch (Exception e) {
            throw new AssertionError("not JSON: " + r.body(), e);
        }
    }

    static String f2(double v) { return String.format(Locale.ROOT, "%.2f", v); }
    static String f3(double v) { return String.format(Locale.ROOT, Math.abs(v) >= 100 ? "%.1f" : "%.3f", v); }
    static String f4(double v) { return String.format(Locale.ROOT, "%.4f", v); }
}
