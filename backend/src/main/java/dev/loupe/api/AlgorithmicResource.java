package dev.loupe.api;

import dev.loupe.service.Algorithmic;
import io.vertx.core.http.HttpServerRequest;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/** Algorithmic models (modular addition): the Fourier view of the embedding, the answers and the neurons. */
@Path("/api/v1/models/{model}/algorithmic")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "algorithmic", description = "Modular-addition models: embedding spectrum, key frequencies, (a, b) grids, neurons, progress measures")
@APIResponse(responseCode = "400", description = "the model's vocabulary is not the numbers 0 … p-1 and '=', or the neuron is out of range")
@APIResponse(responseCode = "404", description = "unknown model")
public class AlgorithmicResource {
    private final Algorithmic algorithmic;

    public AlgorithmicResource(Algorithmic algorithmic) {
        this.algorithmic = algorithmic;
    }

    @GET
    @Operation(summary = "Spectrum of W_E with the key frequencies, p(answer) over the (a, b) grid with the training pairs, "
            + "accuracy, every neuron's dominant frequency, and the curves of eval.csv")
    public Algorithmic.Overview overview(@PathParam("model") String model, @Context HttpServerRequest request) {
        return algorithmic.overview(model, Clients.of(request));
    }

    @GET
    @Path("/neurons/{neuron}")
    @Operation(summary = "One MLP neuron's activation at '=' over the (a, b) grid and its share of power per frequency")
    public Algorithmic.Neuron neuron(@PathParam("model") String model, @PathParam("neuron") String neuron,
                                     @Context HttpServerRequest request) {
        int n;
        try {
            n = Integer.parseInt(neuron);
        } catch (NumberFormatException e) {
            throw ApiException.badRequest("neuron '" + neuron + "' is not a whole number");
        }
        return algorithmic.neuron(model, n, Clients.of(request));
    }
}
