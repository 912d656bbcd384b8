package dev.loupe.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ApiTest {
    private static final LoupeApp app = LoupeApp.get();
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void modelsListsConfigsAndBrokenFolders() throws Exception {
        HttpResponse<String> r = app.get("/api/v1/models");
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("application/json"));
        JsonNode models = JSON.readTree(r.body());
        JsonNode tiny = find(models, "placeholder-tiny");
        assertTrue(tiny.get("available").asBoolean());
        assertEquals(1, tiny.get("layers").asInt());
        assertEquals(2, tiny.get("heads").asInt());
        assertEquals(8, tiny.get("dModel").asInt());
        assertEquals(16, tiny.get("vocabulary").asInt());
        assertTrue(tiny.get("placeholder").asBoolean());
        JsonNode broken = find(models, LoupeApp.BROKEN_MODEL);
        assertFalse(broken.get("available").asBoolean());
        assertTrue(broken.get("problem").asText().startsWith("corrupt manifest.json"), broken.toString());
    }

    @Test
    void unknownModelIsA404WithAJsonMessage() throws Exception {
        HttpResponse<String> r = app.get("/api/v1/models/no-such-model");
        assertEquals(404, r.statusCode());
        JsonNode body = JSON.readTree(r.body());
        assertEquals("unknown model 'no-such-model'", body.get("message").asText());
    }

    @Test
    void healthAndOpenApiAreServed() throws Exception {
        assertEquals(200, app.get("/q/health").statusCode());
        HttpResponse<String> openapi = app.get("/q/openapi?format=json");
        assertEquals(200, openapi.statusCode());
        assertTrue(JSON.readTree(openapi.body()).path("paths").has("/api/v1/models"), openapi.body());
        assertEquals(200, app.get("/q/swagger-ui/").statusCode());
    }

    private static JsonNode find(JsonNode models, String name) {
        for (JsonNode m : models) if (m.get("name").asText().equals(name)) return m;
        throw new AssertionError("model " + name + " not listed in " + models);
    }
}
