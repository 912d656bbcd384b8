package dev.loupe.api;

import jakarta.ws.rs.core.Response;

/** Thrown by resources to answer with a 4xx JSON error. */
public class ApiException extends RuntimeException {
    private final Response.Status status;

    public ApiException(Response.Status status, String message) {
        super(message);
        this.status = status;
    }

    public static ApiException notFound(String message) { return new ApiException(Response.Status.NOT_FOUND, message); }
    public static ApiException badRequest(String message) { return new ApiException(Response.Status.BAD_REQUEST, message); }

    public Response.Status status() { return status; }
}
