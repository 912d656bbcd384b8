package dev.loupe.service;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loupe.api.ApiException;
import dev.loupe.jobs.JobKind;
import dev.loupe.jobs.Progress;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.ws.rs.core.Response;

/** Circuit discovery as a job: the parameters of {@link CircuitService#query} plus {@code "model"}; the result id is its cache key. */
@ApplicationScoped
public class CircuitJobKind implements JobKind {
    public static final String NAME = "circuits";
    private final CircuitService circuits;

    public CircuitJobKind(CircuitService circuits) {
        this.circuits = circuits;
    }

    @Override public String name() { return NAME; }

    private CircuitService.Query query(JsonNode params) {
        try {
            return circuits.query(params.path("model").asText(""), params);
        } catch (ApiException e) {
            if (e.status() == Response.Status.BAD_REQUEST) throw new IllegalArgumentException(e.getMessage());
            throw e;
        }
    }

    @Override public void check(JsonNode params) { query(params); }

    @Override public long expectedBytes(JsonNode params) { return circuits.expectedBytes(query(params)); }

    @Override public String run(JsonNode params, Progress progress) { return circuits.run(query(params), progress).key(); }
}
