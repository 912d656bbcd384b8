package dev.loupe.api;

import dev.loupe.service.Explorer;
import dev.loupe.service.WeightCircuits;
import io.vertx.core.http.HttpServerRequest;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * A model's weights read as circuits, on TransformerLens's processed weights (fold_ln, center_writing_weights,
 * center_unembed). Results are cached like the explorer's ({@code X-Loupe-Cache}, {@code X-Loupe-Result}).
 */
@Path("/api/v1/models/{model}/weights")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "weights", description = "QK and OV circuits of a head through the embedding; Q-, K-, V-composition scores between heads")
@APIResponse(responseCode = "400", description = "layer or head out of range, rows out of 1–50, unknown sign, rank or token")
@APIResponse(responseCode = "404", description = "unknown model")
public class WeightsResource {
    private final Explorer explorer;
    private final WeightCircuits circuits;

    public WeightsResource(Explorer explorer, WeightCircuits circuits) {
        this.explorer = explorer;
        this.circuits = circuits;
    }

    @GET
    @Path("/composition")
    @Operation(summary = "Q-, K- and V-composition scores [receiver head][sender head] (null unless the sender is in an earlier layer), "
            + "with the baseline of random matrices of the same shapes")
    public Response composition(@PathParam("model") String model, @Context HttpServerRequest request) {
        return answer(circuits.compositionQuery(model), request);
    }

    @GET
    @Path("/heads/{layer}/{head}")
    @Operation(summary = "Full QK (W_E W_Q W_Kᵀ W_Eᵀ) and OV (W_E W_V W_O W_U) circuits of a head: the top rows with their top tokens, "
            + "the top token pairs, Σλ/Σ|λ| of the eigenvalues, norms; with token, that token's row and column")
    public Response head(@PathParam("model") String model, @Context HttpServerRequest request,
                         @PathParam("layer") Integer layer, @PathParam("head") Integer head,
                         @Parameter(description = "rows and pairs, 1–50, default 10") @QueryParam("rows") Integer rows,
                         @Parameter(description = "positive (largest entries, default) or negative (most negative)") @QueryParam("sign") String sign,
                         @Parameter(description = "max: the rows holding the largest entries and the matrix's top pairs, exactly (the default up to "
                                 + "8,192 tokens; at 50,257 it takes seconds to a minute on many heads); norm: the rows of largest norm "
                                 + "(the default for larger vocabularies)") @QueryParam("rank") String rank,
                         @Parameter(description = "a token whose row and column to show (text, · for a space, or #id)") @QueryParam("token") String token) {
        return answer(circuits.headQuery(model, layer, head, rows, sign, rank, token), request);
    }

    private Response answer(Explorer.Query<?> q, HttpServerRequest request) {
        return Answers.of(explorer.json(q, Clients.of(request)));
    }
}
