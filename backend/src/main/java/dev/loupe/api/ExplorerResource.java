package dev.loupe.api;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.analysis.AttentionPatterns;
import dev.loupe.analysis.DirectLogitAttribution;
import dev.loupe.analysis.HeadDetectors;
import dev.loupe.analysis.LogitLens;
import dev.loupe.analysis.Predictions;
import dev.loupe.generation.Generation;
import dev.loupe.service.Explorer;
import dev.loupe.service.GenerationJobKind;
import dev.loupe.service.Inspector;
import dev.loupe.service.JobService;
import io.vertx.core.http.HttpServerRequest;
import jakarta.ws.rs.BeanParam;
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
import org.eclipse.microprofile.config.inject.ConfigProperty;
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
    private static final String CACHE_HEADER = Answers.CACHE_HEADER;

    // The answers' shapes, for the OpenAPI document: where the result came from, and the result.
    public record PromptAnswer(String model, boolean cached, String key, long millis, Predictions.Result result) {}
    public record LogitLensAnswer(String model, boolean cached, String key, long millis, LogitLens.Result result) {}
    public record AttentionAnswer(String model, boolean cached, String key, long millis, AttentionPatterns.Result result) {}
    public record DlaAnswer(String model, boolean cached, String key, long millis, DirectLogitAttribution.Result result) {}
    public record DetectorsAnswer(String model, boolean cached, String key, long millis, HeadDetectors.Result result) {}

    public record GenerateAnswer(String model, boolean cached, String key, long millis, Generation.Result result) {}

    private final Explorer explorer;
    private final Inspector inspector;
    private final JobService jobs;
    private final int syncTokens;

    /**
     * @param syncTokens a generation asking for more new tokens than this ({@code loupe.generate.sync-tokens}) runs as a
     *                   job (202) unless its result is stored
     */
    public ExplorerResource(Explorer explorer, Inspector inspector, JobService jobs,
                            @ConfigProperty(name = "loupe.generate.sync-tokens", defaultValue = "64") int syncTokens) {
        this.explorer = explorer;
        this.inspector = inspector;
        this.jobs = jobs;
        this.syncTokens = syncTokens;
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
    @Operation(summary = "Logit lens: top-5 tokens and probabilities of a stream of every layer (hook_resid_pre and the output by default; "
            + "resid_mid, resid_post, attn_out, mlp_out or all), each read through ln_final with its own scale, at every position; "
            + "with token, also that token's probability and rank")
    public Response logitLens(@PathParam("model") String model, @Context HttpServerRequest request,
                              @Parameter(description = "the prompt", required = true) @QueryParam("text") String text,
                              @Parameter(description = "a token to follow (its text, · for a space, or #id)") @QueryParam("token") String token,
                              @Parameter(description = "the stream lensed in every block: resid_pre (default, then the output), resid_mid, "
                                      + "resid_post, attn_out, mlp_out, or all of them in forward order") @QueryParam("stream") String stream) {
        return answer(explorer.logitLensQuery(model, text, token, stream), request);
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
    public Response dla(@PathParam("model") String model, @Context HttpServerRequest request, @BeanParam DlaParams p) {
        return answer(explorer.dlaQuery(model, p.text, p.position, p.a, p.b), request);
    }

    @GET
    @Path("/dla/sources")
    @Operation(summary = "Direct logit attribution with every head split by source position: sources[layer][head][s] = "
            + "A[position, s] · v_s W_O^h read through the final LayerNorm scale and the unembedding direction; a head's sources "
            + "sum to its attribution (dla.heads)")
    public Response dlaSources(@PathParam("model") String model, @Context HttpServerRequest request, @BeanParam DlaParams p) {
        return answer(explorer.dlaSourcesQuery(model, p.text, p.position, p.a, p.b), request);
    }

    /** The parameters of a direct logit attribution (both DLA endpoints). */
    public static class DlaParams {
        @Parameter(description = "the prompt", required = true) @QueryParam("text") public String text;
        @Parameter(description = "position (negative counts from the end), default the last") @QueryParam("position") public Integer position;
        @Parameter(description = "token A (text, · for a space, or #id); default the top prediction") @QueryParam("a") public String a;
        @Parameter(description = "token B; absent: logit(A) alone") @QueryParam("b") public String b;
    }

    @GET
    @Path("/generate")
    @APIResponse(responseCode = "200", description = "the result; header " + CACHE_HEADER + ": hit or miss, X-Loupe-Result: its id",
            headers = @Header(name = CACHE_HEADER, description = "hit or miss"),
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = GenerateAnswer.class)))
    @APIResponse(responseCode = "202", description = "a long generation (over loupe.generate.sync-tokens new tokens, or ?job=true) started as a job: "
            + "{job, resultId, result}; follow /api/v1/jobs/{id} (progress: tokens generated / asked; DELETE cancels between tokens), then GET result",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = PatchingResource.Started.class)))
    @Operation(summary = "Continues the prompt greedily (temperature 0) or by sampling: softmax(logit / temperature) over the top-k tokens, "
            + "one SplitMix64 draw per step from the seed, so a seed gives one continuation; stops after maxNew tokens, at the end "
            + "of the context, or at <|endoftext|> (stopAtEos)")
    public Response generate(@PathParam("model") String model, @Context HttpServerRequest request,
                             @Parameter(description = "the prompt", required = true) @QueryParam("text") String text,
                             @Parameter(description = "new tokens at most, default 20 (bounded by the context)") @QueryParam("maxNew") Integer maxNew,
                             @Parameter(description = "0 (default): greedy; else the sampling temperature, up to 10") @QueryParam("temperature") Double temperature,
                             @Parameter(description = "sample among the k most likely tokens; 0 (default): every token") @QueryParam("topK") Integer topK,
                             @Parameter(description = "random seed, default 0") @QueryParam("seed") Long seed,
                             @Parameter(description = "stop when the model writes its end-of-text token, default true") @QueryParam("stopAtEos") Boolean stopAtEos,
                             @Parameter(description = "run as a job (202 with the job) even when short; default: only over loupe.generate.sync-tokens new tokens")
                             @QueryParam("job") boolean asJob) {
        var q = explorer.generateQuery(model, text, maxNew, temperature, topK, seed, stopAtEos);
        String id = explorer.id(q);
        if ((asJob || q.params().get("maxNew") instanceof Integer n && n > syncTokens) && explorer.cached(q).isEmpty()) {
            ObjectNode params = JsonNodeFactory.instance.objectNode();
            params.put("model", model);
            params.put("text", text);
            if (maxNew != null) params.put("maxNew", maxNew);
            if (temperature != null) params.put("temperature", temperature);
            if (topK != null) params.put("topK", topK);
            if (seed != null) params.put("seed", seed);
            if (stopAtEos != null) params.put("stopAtEos", stopAtEos);
            String job;
            try {
                job = jobs.submit(GenerationJobKind.NAME, Clients.of(request), params);
            } catch (IllegalArgumentException e) {
                throw ApiException.badRequest(e.getMessage());
            }
            return Response.accepted(new PatchingResource.Started(jobs.get(job).orElseThrow(), id, "/api/v1/models/" + model + "/generate/" + id))
                    .header("Location", "/api/v1/jobs/" + job).header(Answers.RESULT_HEADER, id).build();
        }
        return answer(q, request);
    }

    @GET
    @Path("/generate/{id}")
    @APIResponse(responseCode = "200", description = "the stored result",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = GenerateAnswer.class)))
    @APIResponse(responseCode = "404", description = "no stored generation of this model with this id (not done yet, cancelled, or evicted)")
    @Operation(summary = "A generation by its id (the resultId of a job, the key of an answer): the same JSON as GET /generate")
    public Response generated(@PathParam("model") String model, @PathParam("id") String id) {
        byte[] json = explorer.storedAnswer(model, id, Explorer.GENERATION)
                .orElseThrow(() -> ApiException.notFound("no stored generation " + id + " of " + model + " (a job's result is stored once it is done)"));
        return Response.ok(json, MediaType.APPLICATION_JSON_TYPE.withCharset("UTF-8")).header(Answers.RESULT_HEADER, id).build();
    }

    @GET
    @Path("/compare")
    @Produces({MediaType.APPLICATION_JSON, "text/csv"})
    @Operation(summary = "One metric over a list of prompts, each run alone: logit_diff (logit(a) − logit(b) at the last position), "
            + "prob (p(a) there) or loss (mean next-token loss); JSON, or CSV with format=csv")
    public Response compare(@PathParam("model") String model, @Context HttpServerRequest request,
                            @Parameter(description = "the prompts, one text parameter each", required = true) @QueryParam("text") java.util.List<String> texts,
                            @Parameter(description = "logit_diff (default), prob or loss") @QueryParam("metric") String metric,
                            @Parameter(description = "token A (text, · for a space, or #id)") @QueryParam("a") String a,
                            @Parameter(description = "token B (logit_diff)") @QueryParam("b") String b,
                            @Parameter(description = "json (default) or csv") @QueryParam("format") String format) {
        return comparison(model, request, texts, metric, a, b, format);
    }

    /** The body of a comparison sent by POST: a list of long prompts does not fit in a URL. */
    public record CompareRequest(
            @Schema(description = "the prompts", required = true) java.util.List<String> text,
            @Schema(description = "logit_diff (default), prob or loss") String metric,
            @Schema(description = "token A (text, · for a space, or #id)") String a,
            @Schema(description = "token B (logit_diff)") String b,
            @Schema(description = "json (default) or csv") String format) {}

    @POST
    @Path("/compare")
    @Consumes(MediaType.APPLICATION_JSON)
    @Produces({MediaType.APPLICATION_JSON, "text/csv"})
    @Operation(summary = "As GET /compare with the parameters as a JSON body ({\"text\": [prompts], \"metric\", \"a\", \"b\", \"format\"}), "
            + "for lists of prompts too long for a URL")
    public Response comparePost(@PathParam("model") String model, @Context HttpServerRequest request, CompareRequest body) {
        if (body == null) throw ApiException.badRequest("the body must be a JSON object {\"text\": [prompts], \"metric\": ..., \"a\": ..., \"b\": ...}");
        return comparison(model, request, body.text(), body.metric(), body.a(), body.b(), body.format());
    }

    private Response comparison(String model, HttpServerRequest request, java.util.List<String> texts, String metric, String a, String b, String format) {
        String f = format == null || format.isBlank() ? "json" : format;
        if (!f.equals("json") && !f.equals("csv")) throw ApiException.badRequest("format must be json or csv, not '" + f + "'");
        var q = explorer.compareQuery(model, texts, metric, a, b);
        if (f.equals("json")) return answer(q, request);
        var r = explorer.answer(q, Clients.of(request));
        return Response.ok(dev.loupe.analysis.PromptComparison.csv(r.result()), "text/csv; charset=UTF-8")
                .header("Content-Disposition", "attachment; filename=\"compare-" + model + ".csv\"")
                .header(CACHE_HEADER, r.cached() ? "hit" : "miss").header("X-Loupe-Result", r.key()).build();
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

    @GET
    @Path("/attention-heads")
    @Operation(summary = "Attention patterns [layer][head][query][key] of every head; with weighted=true value-weighted: "
            + "A[q][k] · ‖v_k W_O^h‖, and valueNorms [layer][head][key]")
    public Response allHeads(@PathParam("model") String model, @Context HttpServerRequest request,
                             @Parameter(description = "the prompt", required = true) @QueryParam("text") String text,
                             @Parameter(description = "value-weighted patterns, default false") @QueryParam("weighted") boolean weighted) {
        return answer(explorer.allHeadsQuery(model, text, weighted), request);
    }

    // ---------------------------------------------------------------- raw access for scripts (not cached)

    @GET
    @Path("/tokenize")
    @Operation(summary = "Text → token ids (BOS prepended when the model has one) with each token's display string")
    public Inspector.Tokens tokenize(@PathParam("model") String model,
                                     @Parameter(description = "the text", required = true) @QueryParam("text") String text) {
        return inspector.tokenize(model, text);
    }

    @GET
    @Path("/detokenize")
    @Operation(summary = "Token ids → text and each token's display string")
    public Inspector.Tokens detokenize(@PathParam("model") String model,
                                       @Parameter(description = "ids, comma-separated (ids=15496,995) or repeated (ids=15496&ids=995)", required = true) @QueryParam("ids") java.util.List<String> ids) {
        return inspector.detokenize(model, Inspector.parseIds(String.join(",", ids)));
    }

    @GET
    @Path("/hooks")
    @Operation(summary = "Every hook of the model (TransformerLens names) with its layer and axes")
    public java.util.List<Inspector.Hook> hooks(@PathParam("model") String model) {
        return inspector.hooks(model);
    }

    @GET
    @Path("/activations")
    @Produces({MediaType.APPLICATION_JSON, MediaType.APPLICATION_OCTET_STREAM})
    @Operation(summary = "One hook's activation for a prompt: JSON {hook, ids, axes, shape, data (row-major)} or, with "
            + "format=safetensors, a safetensors file with the tensor under the hook's name")
    public Response activations(@PathParam("model") String model, @Context HttpServerRequest request,
                                @Parameter(description = "the prompt", required = true) @QueryParam("text") String text,
                                @Parameter(description = "hook name, e.g. blocks.0.attn.hook_pattern", required = true) @QueryParam("hook") String hook,
                                @Parameter(description = "json (default) or safetensors") @QueryParam("format") String format) {
        String f = format == null || format.isBlank() ? "json" : format;
        if (!f.equals("json") && !f.equals("safetensors")) throw ApiException.badRequest("format must be json or safetensors, not '" + f + "'");
        var ids = inspector.tokenize(model, text).ids();
        var r = inspector.activation(model, text, hook, Clients.of(request));
        if (f.equals("safetensors")) {
            return Response.ok(Inspector.safetensors(r, model, ids), MediaType.APPLICATION_OCTET_STREAM_TYPE)
                    .header("Content-Disposition", "attachment; filename=\"" + hook + ".safetensors\"").build();
        }
        if (r.tensor().data().length > Inspector.MAX_JSON_VALUES)
            throw ApiException.badRequest(hook + " has " + r.tensor().data().length + " values, more than JSON answers carry ("
                    + Inspector.MAX_JSON_VALUES + "): ask with format=safetensors");
        var body = new java.util.LinkedHashMap<String, Object>();
        body.put("hook", r.hook());
        body.put("ids", ids);
        body.put("axes", r.axes());
        body.put("shape", r.shape());
        body.put("data", r.tensor().data());
        return Response.ok(body, MediaType.APPLICATION_JSON_TYPE).build();
    }

    private Response answer(Explorer.Query<?> q, HttpServerRequest request) {
        return Answers.of(explorer.json(q, Clients.of(request)));
    }
}
