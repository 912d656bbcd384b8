package dev.loupe.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.api.ApiException;
import dev.loupe.jobs.JobKind;
import dev.loupe.jobs.Progress;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.ws.rs.core.Response;

/** A patching sweep as a job: the fields of {@link PatchingService.Request} plus {@code "model"}; the result id is its cache key. */
@ApplicationScoped
public class PatchingJobKind implements JobKind {
    public static final String NAME = PatchingService.ANALYSIS;
    private static final ObjectMapper JSON = new ObjectMapper();
    private final PatchingService patching;

    public PatchingJobKind(PatchingService patching) {
        this.patching = patching;
    }

    @Override public String name() { return NAME; }

    private PatchingService.Prepared prepare(JsonNode params) {
        try {
            return patching.prepare(params.path("model").asText(""), JSON.convertValue(params, PatchingService.Request.class));
        } catch (ApiException e) {
            if (e.status() == Response.Status.BAD_REQUEST) throw new IllegalArgumentException(e.getMessage());
            throw e;
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("bad patching request: " + e.getMessage());
        }
    }

    @Override public void check(JsonNode params) { prepare(params); }

    @Override public long expectedBytes(JsonNode params) { return patching.expectedBytes(prepare(params)); }

    @Override public String run(JsonNode params, Progress progress) { return patching.answer(prepare(params), progress).key(); }
}
