package dev.loupe.api;

import dev.loupe.model.GptConfig;
import dev.loupe.service.ModelCatalog;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.util.List;

@Path("/api/v1/models")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "models")
public class ModelResource {

    /** A model as the API shows it; config fields are null when the folder is unavailable. */
    public record ModelInfo(String name, boolean available, String problem, String description, boolean placeholder,
                            Long parameters, Integer layers, Integer heads, Integer dModel, Integer dMlp,
                            Integer context, Integer vocabulary, Boolean attnOnly, String tokenizer, String card) {

        static ModelInfo of(ModelCatalog.Entry e) {
            if (!e.available()) {
                return new ModelInfo(e.name(), false, e.problem(), null, false,
                        null, null, null, null, null, null, null, null, null, null);
            }
            var f = e.folder();
            GptConfig c = f.config();
            return new ModelInfo(e.name(), true, null, f.description(), f.placeholder(), c.parameterCount(),
                    c.nLayers(), c.nHeads(), c.dModel(), c.dMlp(), c.nCtx(), c.dVocab(), c.attnOnly(),
                    f.tokenizerType(), f.card());
        }
    }

    private final ModelCatalog catalog;

    public ModelResource(ModelCatalog catalog) {
        this.catalog = catalog;
    }

    @GET
    @Operation(summary = "The models found, with their configs; unusable folders are listed with the reason")
    public List<ModelInfo> list() {
        return catalog.entries().stream().map(ModelInfo::of).toList();
    }

    @GET
    @Path("/{name}")
    @Operation(summary = "One model")
    public ModelInfo get(@PathParam("name") String name) {
        return catalog.find(name).map(ModelInfo::of)
                .orElseThrow(() -> ApiException.notFound("unknown model '" + name + "'"));
    }
}
