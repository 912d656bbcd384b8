package dev.loupe.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.service.CircuitJobKind;
import dev.loupe.service.CircuitService;
import dev.loupe.service.JobService;
import io.vertx.core.http.HttpServerRequest;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.util.ArrayList;
import java.util.List;

/**
 * Circuit discovery over REST. The body names a dataset ({@code "dataset": {"prompts": [...]}} or a built-in
 * {@code "task"}) and a method ({@code eap}, {@code eap-ig} with {@code steps}, {@code acdc} with {@code tau} and
 * {@code objective}); the answer is the export JSON (every edge with its score, the metrics, the faithfulness
 * curves, the dataset), also reachable by its id.
 */
@Path("/api/v1/models/{model}/circuits")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
@Tag(name = "circuits", description = "EAP, EAP-IG and ACDC circuit discovery, exact evaluation of edge sets")
@APIResponse(responseCode = "400", description = "bad input: a dataset pair of unequal lengths, an answer of several tokens, an unknown method or edge")
@APIResponse(responseCode = "404", description = "unknown model or result")
public class CircuitResource {
    /** The answer of a POST that started a job. */
    public record Started(dev.loupe.jobs.JobInfo job, String result_id, String result) {}

    private final CircuitService circuits;
    private final JobService jobs;

    public CircuitResource(CircuitService circuits, JobService jobs) {
        this.circuits = circuits;
        this.jobs = jobs;
    }

    @POST
    @Operation(summary = "Discover a circuit: scores for every edge of the graph and the faithfulness curves")
    @APIResponse(responseCode = "200", description = "the result was computed before: the export JSON")
    @APIResponse(responseCode = "202", description = "a job was started: {job, result_id, result}; follow /api/v1/jobs/{id}, then GET result")
    public Response discover(@PathParam("model") String model, JsonNode body, @Context HttpServerRequest request) {
        CircuitService.Query q = circuits.query(model, body);
        String location = "/api/v1/models/" + model + "/circuits/" + q.id();
        var done = circuits.cached(q);
        if (done.isPresent())
            return Response.ok(done.get(), MediaType.APPLICATION_JSON_TYPE.withCharset("UTF-8"))
                    .header("X-Loupe-Cache", "hit").header("X-Loupe-Result", q.id()).header("Location", location).build();
        ObjectNode params = body.deepCopy();
        params.put("model", model);
        String job;
        try {
            job = jobs.submit(CircuitJobKind.NAME, Clients.of(request), params);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        }
        return Response.accepted(new Started(jobs.get(job).orElseThrow(), q.id(), location)).header("Location", "/api/v1/jobs/" + job).header("X-Loupe-Result", q.id()).build();
    }

    @GET
    @Path("/{id}")
    @Operation(summary = "A circuit result by its id")
    public Response result(@PathParam("model") String model, @PathParam("id") String id) {
        return Response.ok(circuits.result(model, id), MediaType.APPLICATION_JSON_TYPE.withCharset("UTF-8")).build();
    }

    @POST
    @Path("/evaluate")
    @Operation(summary = "Exact evaluation of an edge set (\"edges\": [\"a0.h2->a1.h3<k>\", ...]) on the request's dataset: metric, KL, faithfulness")
    public JsonNode evaluate(@PathParam("model") String model, JsonNode body, @Context HttpServerRequest request) {
        CircuitService.Query q = circuits.query(model, body);
        JsonNode edges = body.get("edges");
        if (edges == null || !edges.isArray()) throw ApiException.badRequest("give \"edges\": an array of edge names SENDER->RECEIVER");
        List<String> names = new ArrayList<>();
        edges.forEach(e -> names.add(e.asText()));
        return circuits.evaluate(Clients.of(request), q, names);
    }
}
