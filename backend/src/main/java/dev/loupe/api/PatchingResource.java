package dev.loupe.api;

import dev.loupe.service.PatchingService;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.nio.charset.StandardCharsets;

/**
 * Activation patching over REST (DESIGN §8 names and shapes). A POST runs a sweep, or answers it from the cache;
 * its {@code key} (also header {@code X-Loupe-Result}) reopens the result with a GET.
 */
@Path("/api/v1/models/{model}/patching")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "patching", description = "Activation patching sweeps and their attribution-patching estimates")
@APIResponse(responseCode = "400", description = "bad input: prompts of different lengths, unknown tokens, a metric position outside the prompt, "
        + "an unknown sweep, a sweep over the configured limit")
@APIResponse(responseCode = "404", description = "unknown model or result")
public class PatchingResource {
    public record PatchingAnswer(String model, boolean cached, String key, long millis, PatchingService.Result result) {}
    /** A sweep started as a job: follow {@code /api/v1/jobs/{job.id}}, then GET {@code result}. */
    public record Started(dev.loupe.jobs.JobInfo job, String resultId, String result) {}

    private final PatchingService patching;
    private final dev.loupe.service.JobService jobs;
    private final long syncRows;

    public PatchingResource(PatchingService patching, dev.loupe.service.JobService jobs,
                            @org.eclipse.microprofile.config.inject.ConfigProperty(name = "loupe.patching.sync-rows", defaultValue = "3000") long syncRows) {
        this.patching = patching;
        this.jobs = jobs;
        this.syncRows = syncRows;
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @APIResponse(responseCode = "200", description = "the result; header X-Loupe-Cache: hit or miss, X-Loupe-Result: its id",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = PatchingAnswer.class)))
    @APIResponse(responseCode = "202", description = "a long sweep (over loupe.patching.sync-rows patched runs, or ?job=true) started as a job: "
            + "{job, resultId, result}; follow /api/v1/jobs/{id}, then GET result")
    @Operation(summary = "Patch one index per run over a clean/corrupted prompt pair: values (raw metric), normalised "
            + "(patched − corrupted)/(clean − corrupted) and the attribution estimate, nested in the sweep's shape. "
            + "Body: clean/corrupt (text, BOS prepended unless bos=false) or cleanTokens/corruptTokens; metric (logit_diff, logprob, prob, kl, loss, "
            + "or a full spec such as logit_diff:-1:123:456), position, a, b (token text, · for a space, or #id; default the runs' top tokens); "
            + "sweep; direction (denoise, noise, zero, mean, resample); attribution (default true)")
    public Response run(@PathParam("model") String model, PatchingService.Request request, @jakarta.ws.rs.QueryParam("job") boolean asJob,
                        @jakarta.ws.rs.core.Context io.vertx.core.http.HttpServerRequest http) {
        PatchingService.Prepared p = patching.prepare(model, request);
        String id = patching.id(p);
        if ((asJob || p.rows() > syncRows) && patching.find(id).isEmpty()) {
            com.fasterxml.jackson.databind.node.ObjectNode params = new com.fasterxml.jackson.databind.ObjectMapper().valueToTree(request);
            params.put("model", model);
            String job;
            try {
                job = jobs.submit(dev.loupe.service.PatchingJobKind.NAME, Clients.of(http), params);
            } catch (IllegalArgumentException e) {
                throw ApiException.badRequest(e.getMessage());
            }
            String location = "/api/v1/models/" + model + "/patching/" + id;
            return Response.accepted(new Started(jobs.get(job).orElseThrow(), id, location)).header("Location", "/api/v1/jobs/" + job)
                    .header("X-Loupe-Result", id).build();
        }
        return Answers.of(patching.run(p));
    }

    @GET
    @Path("/{id}")
    @APIResponse(responseCode = "200", description = "the stored result",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = PatchingAnswer.class)))
    @Operation(summary = "A patching result by its id (the key of a POST's answer)")
    public Response get(@PathParam("model") String model, @PathParam("id") String id) {
        if (id == null || !id.matches("[0-9a-f]{64}")) throw ApiException.badRequest("result id '" + id + "' is not a 64-digit hex key");
        byte[] json = patching.find(id).orElseThrow(() -> ApiException.notFound("no patching result " + id));
        String head = "{\"model\":\"" + model.replace("\"", "") + "\",";
        if (!new String(json, 0, Math.min(json.length, head.length() + 8), StandardCharsets.UTF_8).startsWith(head))
            throw ApiException.notFound("patching result " + id + " is not of model '" + model + "'");
        byte[] prefix = ("{\"model\":\"" + model + "\",\"cached\":true,\"key\":\"" + id + "\",\"millis\":0,\"result\":").getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[prefix.length + json.length + 1];
        System.arraycopy(prefix, 0, out, 0, prefix.length);
        System.arraycopy(json, 0, out, prefix.length, json.length);
        out[out.length - 1] = '}';
        return Response.ok(out, MediaType.APPLICATION_JSON_TYPE.withCharset("UTF-8")).header("X-Loupe-Result", id).build();
    }
}
