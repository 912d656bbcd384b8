package dev.loupe.api;

import dev.loupe.service.Explorer;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

/** A cached result as a REST answer: its JSON, whether the cache held it, and its stable id (which reopens it). */
final class Answers {
    static final String CACHE_HEADER = "X-Loupe-Cache";
    static final String RESULT_HEADER = "X-Loupe-Result";

    private Answers() {}

    static Response of(Explorer.JsonAnswer a) {
        return Response.ok(a.json(), MediaType.APPLICATION_JSON_TYPE.withCharset("UTF-8"))
                .header(CACHE_HEADER, a.cached() ? "hit" : "miss").header(RESULT_HEADER, a.key()).build();
    }
}
