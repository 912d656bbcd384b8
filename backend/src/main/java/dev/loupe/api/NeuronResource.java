package dev.loupe.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.service.JobService;
import dev.loupe.service.NeuronIndexJob;
import dev.loupe.service.NeuronService;
import io.vertx.core.http.HttpServerRequest;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/** Neuron pages, the neuron browser, search, "test your own text", and building the index as a job (DESIGN §9). */
@Path("/api/v1/models/{model}/neurons")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "neurons", description = "Neuron index: pages, browser, search, test text")
@APIResponse(responseCode = "400", description = "bad input: a layer out of range, a search term that is not one token, an empty text")
@APIResponse(responseCode = "404", description = "unknown model, neuron out of range, or no index for the model (the message says how to build it)")
public class NeuronResource {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final NeuronService neurons;
    private final JobService jobs;

    public NeuronResource(NeuronService neurons, JobService jobs) {
        this.neurons = neurons;
        this.jobs = jobs;
    }

    /** A test's text: {@code {"text": "..."}}. */
    public record TestText(String text) {}

    /** Which corpus to build the index from: {@code {"corpus": "brown-heldout"}}. */
    public record IndexRequest(String corpus) {}

    @GET
    @Operation(summary = "Whether the model has a neuron index; with ?layer=L the layer's table (max, density, kurtosis, vocabulary kurtosis/skew, class, label, score per neuron)")
    public ObjectNode layer(@PathParam("model") String model, @QueryParam("layer") Integer layer) {
        if (layer == null) return neurons.status(model);
        return neurons.layer(model, layer);
    }

    @GET
    @Path("/search")
    @Operation(summary = "Neurons that fire on a token (?fires= from per-token means), predict a token (?predicts= from the logit effects W_out·W_U), or whose label contains text (?label=); a token is its text (\" an\") or #id")
    public ObjectNode search(@PathParam("model") String model, @QueryParam("fires") String fires,
                             @QueryParam("predicts") String predicts, @QueryParam("label") String label) {
        int given = (fires != null ? 1 : 0) + (predicts != null ? 1 : 0) + (label != null ? 1 : 0);
        if (given != 1) throw ApiException.badRequest("give exactly one of fires, predicts or label");
        if (fires != null) return neurons.search(model, "fires", fires);
        if (predicts != null) return neurons.search(model, "predicts", predicts);
        return neurons.search(model, "label", label);
    }

    @POST
    @Path("/index")
    @Consumes(MediaType.APPLICATION_JSON)
    @APIResponse(responseCode = "202", description = "the job (poll GET /api/v1/jobs/{id})")
    @Operation(summary = "Build the model's neuron index as a job (corpus: brown-heldout, brown, kjv or fortunes)")
    public Response index(@PathParam("model") String model, IndexRequest request, @Context HttpServerRequest http) {
        ObjectNode params = JSON.createObjectNode();
        params.put("model", model);
        params.put("corpus", request == null || request.corpus() == null ? "brown-heldout" : request.corpus());
        String id = jobs.submit(NeuronIndexJob.NAME, Clients.of(http), params);
        return Response.status(Response.Status.ACCEPTED).entity(jobs.get(id).orElseThrow()).build();
    }

    @GET
    @Path("/{layer}/{index}")
    @Operation(summary = "A neuron's page: label with score and evidence, top examples with per-token activations, bands, histogram, token means, POS profile, logit effects, weight statistics")
    public ObjectNode neuron(@PathParam("model") String model, @PathParam("layer") Integer layer, @PathParam("index") Integer index) {
        return neurons.neuron(model, layer, index);
    }

    @POST
    @Path("/{layer}/{index}/test")
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "The neuron's activation at every token of a text (BOS prepended as in the index)")
    public ObjectNode test(@PathParam("model") String model, @PathParam("layer") Integer layer, @PathParam("index") Integer index,
                           TestText body, @Context HttpServerRequest http) {
        return neurons.test(Clients.of(http), model, layer, index,
                body == null ? null : body.text());
    }

    @GET
    @Path("/{layer}/{index}/windows/{window}")
    @Operation(summary = "A stored example's whole window with the neuron's activations, computed again by the engine")
    public ObjectNode window(@PathParam("model") String model, @PathParam("layer") Integer layer, @PathParam("index") Integer index,
                             @PathParam("window") Integer window, @Context HttpServerRequest http) {
        return neurons.window(Clients.of(http), model, layer, index,
                window);
    }

}
