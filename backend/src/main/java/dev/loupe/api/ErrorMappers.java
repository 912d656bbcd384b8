package dev.loupe.api;

import dev.loupe.jobs.Busy;
import dev.loupe.jobs.NotAllowed;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Response;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/** Turns exceptions into JSON errors: 4xx with the problem named, never a stack trace. */
public class ErrorMappers {
    private static final Logger LOG = Logger.getLogger(ErrorMappers.class);

    @ServerExceptionMapper
    public Response api(ApiException e) {
        return ApiError.response(e.status(), e.getMessage());
    }

    @ServerExceptionMapper
    public Response illegalArgument(IllegalArgumentException e) {
        return ApiError.response(Response.Status.BAD_REQUEST, e.getMessage());
    }

    @ServerExceptionMapper
    public Response webApplication(WebApplicationException e) {
        Response.Status status = Response.Status.fromStatusCode(e.getResponse().getStatus());
        if (status == null) status = Response.Status.BAD_REQUEST;
        return ApiError.response(status, e.getMessage());
    }

    /** Over a limit: 429 for the client's own, 503 for the server's, with Retry-After. */
    @ServerExceptionMapper
    public Response busy(Busy e) {
        Response.Status status = e.clientLimit() ? Response.Status.TOO_MANY_REQUESTS : Response.Status.SERVICE_UNAVAILABLE;
        return Response.fromResponse(ApiError.response(status, e.getMessage()))
                .header("Retry-After", e.retryAfterSeconds()).build();
    }

    /** Not allowed on this server (the hosted demo's read-only rules). */
    @ServerExceptionMapper
    public Response notAllowed(NotAllowed e) {
        return ApiError.response(Response.Status.FORBIDDEN, e.getMessage());
    }

    @ServerExceptionMapper
    public Response unexpected(RuntimeException e) {
        LOG.error("unexpected error", e);
        return ApiError.response(Response.Status.INTERNAL_SERVER_ERROR, "internal error: " + e.getClass().getSimpleName());
    }
}
