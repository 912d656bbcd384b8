package dev.loupe.api;

import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

/** The JSON body of every API error: a status and a message that names the problem. */
public record ApiError(int status, String error, String message) {

    public static Response response(Response.Status status, String message) {
        return Response.status(status).type(MediaType.APPLICATION_JSON)
                .entity(new ApiError(status.getStatusCode(), status.getReasonPhrase(), message)).build();
    }
}
