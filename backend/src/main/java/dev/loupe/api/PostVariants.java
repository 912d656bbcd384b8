package dev.loupe.api;

import io.quarkus.smallrye.openapi.OpenApiFilter;
import org.eclipse.microprofile.openapi.OASFactory;
import org.eclipse.microprofile.openapi.OASFilter;
import org.eclipse.microprofile.openapi.models.OpenAPI;
import org.eclipse.microprofile.openapi.models.Operation;
import org.eclipse.microprofile.openapi.models.PathItem;
import org.eclipse.microprofile.openapi.models.media.Schema;
import org.eclipse.microprofile.openapi.models.parameters.Parameter;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Lists in the OpenAPI document the POST variant that {@link HttpEdge} gives every GET endpoint under {@code /api/}:
 * the same operation with its query parameters as the properties of a JSON object body (applied when the document is
 * built).
 */
@OpenApiFilter(OpenApiFilter.RunStage.BUILD)
public class PostVariants implements OASFilter {

    @Override
    public void filterOpenAPI(OpenAPI api) {
        if (api.getPaths() == null || api.getPaths().getPathItems() == null) return;
        for (Map.Entry<String, PathItem> e : api.getPaths().getPathItems().entrySet()) {
            PathItem item = e.getValue();
            if (!HttpEdge.isApi(e.getKey()) || item.getGET() == null || item.getPOST() != null) continue;
            item.setPOST(postOf(item.getGET()));
        }
    }

    static Operation postOf(Operation get) {
        List<Parameter> path = new ArrayList<>();
        Schema body = OASFactory.createSchema().addType(Schema.SchemaType.OBJECT).additionalPropertiesBoolean(false);
        List<String> required = new ArrayList<>();
        for (Parameter p : get.getParameters() == null ? List.<Parameter>of() : get.getParameters()) {
            if (p.getIn() == Parameter.In.QUERY) {
                Schema s = p.getSchema() != null ? p.getSchema() : OASFactory.createSchema().addType(Schema.SchemaType.STRING);
                body.addProperty(p.getName(), s.getRef() != null ? s : copyWithDescription(s, p.getDescription()));
                if (Boolean.TRUE.equals(p.getRequired())) required.add(p.getName());
            } else {
                path.add(p);
            }
        }
        if (!required.isEmpty()) body.setRequired(required);
        String summary = get.getSummary() == null ? "" : get.getSummary();
        Operation post = OASFactory.createOperation()
                .summary(summary + (summary.isEmpty() ? "" : " ") + "(POST: the query parameters as a JSON object body, for values too long for a URL)")
                .description(get.getDescription())
                .tags(get.getTags())
                .parameters(path.isEmpty() ? null : path)
                .requestBody(OASFactory.createRequestBody().required(false)
                        .content(OASFactory.createContent().addMediaType("application/json", OASFactory.createMediaType().schema(body))))
                .responses(get.getResponses());
        if (get.getOperationId() != null) post.setOperationId(get.getOperationId() + "Post");
        return post;
    }

    private static Schema copyWithDescription(Schema s, String description) {
        Schema c = OASFactory.createSchema().type(s.getType()).format(s.getFormat()).description(description);
        if (s.getEnumeration() != null) c.setEnumeration(s.getEnumeration());
        if (s.getItems() != null) c.setItems(s.getItems());
        return c;
    }
}
