package dev.loupe.api;

import dev.loupe.analysis.AttentionPatterns;
import dev.loupe.analysis.DirectLogitAttribution;
import dev.loupe.analysis.HeadDetectors;
import dev.loupe.analysis.LogitLens;
import dev.loupe.analysis.Predictions;
import dev.loupe.service.Explorer;
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
import org.eclipse.microprofile.openapi.annotations.headers.Header;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * The explorer over REST: every view of the UI as a GET whose query string is the view's state. Results are cached
 * (H2): the {@code X-Loupe-Cache} header says {@code hit} or {@code miss}, {@code X-Loupe-Result} is the result's
 * stable id. Prompts are run with BOS prepended.
 */
@Path("/api/v1/models/{model}")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "explorer", description = "Predictions, logit lens, attention, direct logit attribution and head detectors")
@APIResponse(responseCode = "400", description = "bad input: empty prompt, prompt over the context, unknown token, layer or head out of range")
@APIResponse(responseCode = "404", description = "unknown model")
public class ExplorerResource {
    private static final String CACHE_HEADER = "X-Loupe-Cache";

    // The answers' shapes, for the OpenAPI document: where the result came from, and the result.
    public record PromptAnswer(String model, boolean cached, String key, long millis, Predictions.Result result) {}
    public record LogitLensAnswer(String model, boolean cached, String key, long millis, LogitLens.Result result) {}
    public record AttentionAnswer(String model, boolean cached, String key, long millis, AttentionPatterns.Result result) {}
    public record DlaAnswer(String model, boolean cached, String key, long millis, DirectLogitAttribution.Result result) {}
    public record DetectorsAnswer(String model, boolean cached, String key, long millis, HeadDetectors.Result result) {}

    private final Explorer explorer;

    public ExplorerResource(Explorer explorer) {
        this.explorer = explorer;
    }

    @GET
    @Path("/prompt")
    @APIResponse(responseCode = "200", description = "the result; header " + CACHE_HEADER + ": hit or miss",
            headers = @Header(name = CACHE_HEADER, description = "hit or miss"),
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = PromptAnswer.class)))
    @Operation(summary = "Tokens of a prompt with ids, each token's loss, and the top-10 next tokens at every position")
    public Response prompt(@PathParam("model") String model, @Context HttpServerRequest request,
                           @Parameter(description = "the prompt (BOS is prepended)", required = true) @QueryParam("text") String text) {
        return answer(explorer.promptQuery(model, text), request);
    }

    @GET
    @Path("/logit-lens")
    @APIResponse(responseCode = "200", description = "the result; header " + CACHE_HEADER + ": hit or miss",
            headers = @Header(name = CACHE_HEADER, description = "hit or miss"),
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = LogitLensAnswer.class)))
    @Operation(summary = "Logit lens: top-5 tokens and probabilities of hook_resid_pre of every layer and of the output, at every position; "
            + "with token, also that token's probability")
    public Response logitLens(@PathParam("model") String model, @Context HttpServerRequest request,
                              @Parameter(description = "the prompt", required = true) @QueryParam("text") String text,
                              @Parameter(description = "a token to follow (its text, · for a space, or #id)") @QueryParam("token") String token) {
        return answer(explorer.logitLensQuery(model, text, token), request);
    }

    @GET
    @Path("/attention")
    @APIResponse(responseCode = "200", description = "the result; header " + CACHE_HEADER + ": hit or miss",
            headers = @Header(name = CACHE_HEADER, description = "hit or miss"),
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = AttentionAnswer.class)))
    @Operation(summary = "Attention patterns [query][key] of one head, or of every head of the layer when head is left out")
    public Response attention(@PathParam("model") String model, @Context HttpServerRequest request,
                              @Parameter(description = "the prompt", required = true) @QueryParam("text") String text,
                              @Parameter(description = "layer, default 0") @QueryParam("layer") Integer layer,
                              @Parameter(description = "head; all heads of the layer when absent") @QueryParam("head") Integer head) {
        return answer(explorer.attentionQuery(model, text, layer, head), request);
    }

    @GET
    @Path("/dla")
    @APIResponse(responseCode = "200", description = "the result; header " + CACHE_HEADER + ": hit or miss",
            headers = @Header(name = CACHE_HEADER, description = "hit or miss"),
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = DlaAnswer.class)))
    @Operation(summary = "Direct logit attribution of logit(a) − logit(b) (or logit(a)) at a position to the embeddings, every head, "
            + "every attention bias, every MLP and the final LayerNorm bias; the contributions sum to the logit difference")
    public Response dla(@PathParam("model") String model, @Context HttpServerRequest request,
                        @Parameter(description = "the prompt", required = true) @QueryParam("text") String text,
                        @Parameter(description = "position (negative counts from the end), default the last") @QueryParam("position") Integer position,
                        @Parameter(description = "token A (text, · for a space, or #id); default the top prediction") @QueryParam("a") String a,
                        @Parameter(description = "token B; absent: logit(A) alone") @QueryParam("b") String b) {
        return answer(explorer.dlaQuery(model, text, position, a, b), request);
    }

    @GET
    @Path("/detectors")
    @APIResponse(responseCode = "200", description = "the result; header " + CACHE_HEADER + ": hit or miss",
            headers = @Header(name = CACHE_HEADER, description = "hit or miss"),
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = DetectorsAnswer.class)))
    @Operation(summary = "Previous-token, duplicate-token and induction scores of every head on BOS + random tokens repeated twice")
    public Response detectors(@PathParam("model") String model, @Context HttpServerRequest request,
                              @Parameter(description = "random tokens per repeat, default 40 (or what the context allows)") @QueryParam("length") Integer length,
                              @Parameter(description = "number of sequences, default 2") @QueryParam("batch") Integer batch,
                              @Parameter(description = "random seed, default 0") @QueryParam("seed") Long seed) {
        return answer(explorer.detectorsQuery(model, length, batch, seed), request);
    }

    private Response answer(Explorer.Query<?> q, HttpServerRequest request) {
        Explorer.JsonAnswer a = explorer.json(q, Clients.of(request));
        return Response.ok(a.json(), MediaType.APPLICATION_JSON_TYPE.withCharset("UTF-8"))
                .header(CACHE_HEADER, a.cached() ? "hit" : "miss").header("X-Loupe-Result", a.key()).build();
    }
}
