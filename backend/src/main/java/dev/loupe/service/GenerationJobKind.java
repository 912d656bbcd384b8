package dev.loupe.service;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loupe.api.ApiException;
import dev.loupe.generation.Generation;
import dev.loupe.jobs.JobKind;
import dev.loupe.jobs.Progress;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.ws.rs.core.Response;

/**
 * A generation as a job: the parameters of {@code GET /generate} ({@code text}, {@code maxNew}, {@code temperature},
 * {@code topK}, {@code seed}, {@code stopAtEos}) plus {@code "model"}. Progress is tokens generated / tokens asked;
 * a cancel stops between two tokens and stores nothing. The result id is the cache key of the same synchronous request.
 */
@ApplicationScoped
public class GenerationJobKind implements JobKind {
    public static final String NAME = Explorer.GENERATION;
    private final Explorer explorer;

    public GenerationJobKind(Explorer explorer) {
        this.explorer = explorer;
    }

    @Override public String name() { return NAME; }

    /** The validated query of a job's parameters; a bad one is an IllegalArgumentException (a 400) naming the problem. */
    public Explorer.Query<Generation.Result> query(JsonNode params, Progress progress) {
        if (params == null || !params.isObject()) throw new IllegalArgumentException("the parameters must be a JSON object {\"model\", \"text\", ...}");
        try {
            return explorer.generateQuery(params.path("model").asText(""), text(params, "text"), integer(params, "maxNew"),
                    number(params, "temperature"), integer(params, "topK"), params.hasNonNull("seed") ? whole(params, "seed") : null,
                    params.hasNonNull("stopAtEos") ? bool(params, "stopAtEos") : null, progress);
        } catch (ApiException e) {
            if (e.status() == Response.Status.BAD_REQUEST) throw new IllegalArgumentException(e.getMessage());
            throw e;
        }
    }

    @Override public void check(JsonNode params) { query(params, Progress.NONE); }

    @Override public long expectedBytes(JsonNode params) { return query(params, Progress.NONE).expectedBytes(); }

    @Override public String run(JsonNode params, Progress progress) { return explorer.answer(query(params, progress)).key(); }

    private static String text(JsonNode p, String name) {
        JsonNode v = p.get(name);
        if (v == null || v.isNull()) return null;
        if (!v.isTextual()) throw new IllegalArgumentException("'" + name + "' must be a string");
        return v.asText();
    }

    private static Integer integer(JsonNode p, String name) {
        if (!p.hasNonNull(name)) return null;
        long v = whole(p, name);
        if (v != (int) v) throw new IllegalArgumentException("'" + name + "' is out of range: " + v);
        return (int) v;
    }

    private static long whole(JsonNode p, String name) {
        JsonNode v = p.get(name);
        if (v.isIntegralNumber() && v.canConvertToLong()) return v.asLong();
        if (v.isTextual() && v.asText().trim().matches("-?\\d{1,18}")) return Long.parseLong(v.asText().trim());
        throw new IllegalArgumentException("'" + name + "' must be a whole number, got " + v);
    }

    private static Double number(JsonNode p, String name) {
        if (!p.hasNonNull(name)) return null;
        JsonNode v = p.get(name);
        if (v.isNumber()) return v.asDouble();
        try {
            if (v.isTextual()) return Double.parseDouble(v.asText().trim());
        } catch (NumberFormatException ignored) {
            // named below
        }
        throw new IllegalArgumentException("'" + name + "' must be a number, got " + v);
    }

    private static boolean bool(JsonNode p, String name) {
        JsonNode v = p.get(name);
        if (v.isBoolean()) return v.asBoolean();
        if (v.isTextual() && (v.asText().equals("true") || v.asText().equals("false"))) return Boolean.parseBoolean(v.asText());
        throw new IllegalArgumentException("'" + name + "' must be true or false, got " + v);
    }
}
