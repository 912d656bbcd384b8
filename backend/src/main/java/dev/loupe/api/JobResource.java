package dev.loupe.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loupe.jobs.JobInfo;
import dev.loupe.service.JobService;
import io.vertx.core.http.HttpServerRequest;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.util.List;

/** Long work: submit a job, follow its progress, cancel it, list one's own jobs. */
@Path("/api/v1/jobs")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "jobs", description = "Long work (sweeps, indexing, discovery) with progress and cancel")
public class JobResource {

    /** A job to start: its kind and the kind's parameters. */
    public record Submission(String kind, JsonNode params) {}

    private final JobService jobs;

    public JobResource(JobService jobs) {
        this.jobs = jobs;
    }

    @GET
    @Operation(summary = "Your jobs (by client address), newest first")
    public List<JobInfo> list(@Context HttpServerRequest request) {
        return jobs.list(Clients.of(request));
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Start a job: {\"kind\": \"...\", \"params\": {...}}; answers 202 with the job")
    public Response submit(Submission s, @Context HttpServerRequest request) {
        if (s == null || s.kind() == null || s.kind().isBlank()) throw ApiException.badRequest("no job kind given: send {\"kind\": \"...\", \"params\": {...}}");
        String id = jobs.submit(s.kind(), Clients.of(request), s.params());
        return Response.status(Response.Status.ACCEPTED).header("Location", "/api/v1/jobs/" + id).entity(job(id)).build();
    }

    @GET
    @Path("/{id}")
    @Operation(summary = "One job: state, progress, message, result id or error")
    public JobInfo get(@PathParam("id") String id) {
        return job(id);
    }

    @DELETE
    @Path("/{id}")
    @Operation(summary = "Cancel a job; a running job stops at its next check; 409 when it already finished")
    public JobInfo cancel(@PathParam("id") String id) {
        JobInfo j = job(id);
        if (!jobs.cancel(id)) {
            JobInfo now = job(id);
            if (now.finished())
                throw new ApiException(Response.Status.CONFLICT, "job " + id + " already finished (" + now.state().name().toLowerCase() + ")");
        }
        return job(j.id());
    }

    private JobInfo job(String id) {
        return jobs.get(id).orElseThrow(() -> ApiException.notFound("unknown job '" + id + "'"));
    }
}
