package dev.loupe.api;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EndpointsTest {
    private final Endpoints endpoints = Endpoints.of(List.of(ExplorerResource.class, PatchingResource.class, NeuronResource.class,
            CircuitResource.class, ModelResource.class, JobResource.class));

    @Test
    void pathsMatchTheirTemplatesWithTheirMethods() {
        var prompt = endpoints.match("/api/v1/models/brown-6l/prompt");
        assertEquals(Set.of("GET", "HEAD", "POST"), prompt.methods());
        assertFalse(prompt.hasPost(), "POST comes from the JSON-body rewrite, not a resource method");
        assertEquals(List.of("text"), prompt.get().queryParams());
        assertEquals(List.of("text", "layer", "head"), endpoints.match("/api/v1/models/m/attention/").get().queryParams());
        // a @BeanParam's fields are the endpoint's parameters
        assertEquals(List.of("text", "position", "a", "b"), endpoints.match("/api/v1/models/m/dla").get().queryParams());
        assertEquals(List.of("text", "position", "a", "b"), endpoints.match("/api/v1/models/m/dla/sources").get().queryParams());
        // compare takes its long lists as a body of its own
        assertTrue(endpoints.match("/api/v1/models/m/compare").hasPost());

        var patching = endpoints.match("/api/v1/models/m/patching");
        assertEquals(new TreeSet<>(Set.of("POST")), patching.methods());
        assertTrue(patching.hasPost());
        assertNull(patching.get());
        // a literal and a parameter overlap: both templates match, and their methods add up
        assertEquals(Set.of("GET", "HEAD", "POST"), endpoints.match("/api/v1/models/m/circuits/evaluate").methods());
        assertEquals(Set.of("DELETE", "GET", "HEAD", "POST"), endpoints.match("/api/v1/jobs/abc").methods());
        assertTrue(endpoints.match("/api/v1/models/m/neurons/3/17/test").hasPost());
    }

    @Test
    void unknownPathsMatchNothing() {
        for (String p : new String[]{"/api/v1/nope", "/api/v2/models", "/api/v1/models/m/foo", "/api/v1/models/m/prompt/x", "/api", "/api/"})
            assertNull(endpoints.match(p), p);
    }

    @Test
    void aJsonBodyBecomesTheQueryString() {
        var attention = endpoints.match("/api/v1/models/m/attention").get();
        assertEquals("text=a%20b%26c%3D%25&layer=1&head=2", HttpEdge.query(bytes("{\"text\": \"a b&c=%\", \"layer\": 1, \"head\": 2}"), attention, null));
        assertEquals("layer=1&text=%C2%B7%F0%9F%99%82", HttpEdge.query(bytes("{\"text\": \"·🙂\", \"head\": null}"), attention, "layer=1"));
        assertEquals("", HttpEdge.query(new byte[0], attention, null));
        var detokenize = endpoints.match("/api/v1/models/m/detokenize").get();
        // an array is the parameter repeated, as a GET sends a list; a comma inside an element stays in that element
        assertEquals("ids=15496&ids=995", HttpEdge.query(bytes("{\"ids\": [15496, 995]}"), detokenize, null));
        var compare = endpoints.match("/api/v1/models/m/compare").get();
        assertEquals("text=a%2Cb&text=c&metric=loss", HttpEdge.query(bytes("{\"text\": [\"a,b\", \"c\"], \"metric\": \"loss\"}"), compare, null));
        assertEquals("", HttpEdge.query(bytes("{\"text\": []}"), compare, null));

        assertMessage("unknown parameter 'txt'; /api/v1/models/{model}/attention takes text, layer, head", "{\"txt\": 1}", attention);
        assertMessage("parameter 'layer' is given in the query and in the body", "{\"layer\": 1}", attention, "layer=0");
        assertMessage("must be a JSON object", "[1]", attention);
        assertMessage("not valid JSON", "{\"text\":", attention);
        assertMessage("parameter 'text' must be a string, number, boolean or an array of them", "{\"text\": {\"a\": 1}}", attention);
        assertMessage("parameter 'text' must be a string, number, boolean or an array of them", "{\"text\": [null]}", attention);
    }

    @Test
    void malformedEscapesAndDotSegmentsAreFound() {
        assertEquals(-1, HttpEdge.malformedEscape("/api/v1/models/m/prompt?text=100%25"));
        assertEquals(32, HttpEdge.malformedEscape("/api/v1/models/m/prompt?text=100%"));
        assertEquals(5, HttpEdge.malformedEscape("/api/%zz"));
        assertTrue(HttpEdge.hasDotSegment("/api/v1/models/../../etc/passwd"));
        assertTrue(HttpEdge.hasDotSegment("/api/%2e%2E/x"));
        assertFalse(HttpEdge.hasDotSegment("/api/v1/models/a..b/prompt"));
    }

    private static void assertMessage(String expected, String body, Endpoints.Route route) { assertMessage(expected, body, route, null); }

    private static void assertMessage(String expected, String body, Endpoints.Route route, String query) {
        var e = assertThrows(IllegalArgumentException.class, () -> HttpEdge.query(bytes(body), route, query));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    private static byte[] bytes(String s) { return s.getBytes(StandardCharsets.UTF_8); }
}
