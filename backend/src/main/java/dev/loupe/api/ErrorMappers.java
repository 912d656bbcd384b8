package dev.loupe.api;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import dev.loupe.jobs.Busy;
import dev.loupe.jobs.NotAllowed;
import jakarta.ws.rs.Priorities;
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
        // a body that is not JSON reaches here wrapped in a bare "HTTP 400 Bad Request"
        if (status == Response.Status.BAD_REQUEST && e.getCause() instanceof JacksonException j) return badJson(j);
        return ApiError.response(status, e.getMessage());
    }

    /**
     * A JSON body of the wrong shape ({@code []} where an object is expected, an object for a string...). Quarkus's own
     * mapper for it answers an empty 400 outside dev mode; this one runs first and names the field.
     */
    @ServerExceptionMapper(priority = Priorities.USER - 1)
    public Response mismatchedJson(MismatchedInputException e) {
        return badJson(e);
    }

    @ServerExceptionMapper
    public Response badJson(JacksonException e) {
        return ApiError.response(Response.Status.BAD_REQUEST, jsonProblem(e));
    }

    /** What is wrong with a JSON body, in the API's terms (no Java type names). */
    static String jsonProblem(JacksonException e) {
        if (e instanceof MismatchedInputException m) {
            String where = where(m);
            return "the JSON body does not have the expected shape: " + (where.isEmpty() ? "the body" : "field '" + where + "'")
                    + " must be " + expected(m.getTargetType());
        }
        String msg = e.getOriginalMessage() == null ? "" : e.getOriginalMessage().replaceAll("\\s+", " ");
        if (msg.length() > 200) msg = msg.substring(0, 200) + "…";
        return "the body is not valid JSON: " + msg;
    }

    private static String where(JsonMappingException e) {
        StringBuilder s = new StringBuilder();
        for (JsonMappingException.Reference r : e.getPath()) {
            if (r.getFieldName() != null) s.append(s.isEmpty() ? "" : ".").append(r.getFieldName());
            else if (r.getIndex() >= 0) s.append('[').append(r.getIndex()).append(']');
        }
        return s.toString();
    }

    private static String expected(Class<?> type) {
        if (type == null) return "of another type";
        if (CharSequence.class.isAssignableFrom(type) || type == Character.class || type == char.class) return "a string";
        if (type == Boolean.class || type == boolean.class) return "true or false";
        if (Number.class.isAssignableFrom(type) || (type.isPrimitive() && type != void.class)) return "a number";
        if (type.isArray() || java.util.Collection.class.isAssignableFrom(type)) return "an array";
        if (type.isEnum()) return "one of " + java.util.Arrays.toString(type.getEnumConstants()).toLowerCase(java.util.Locale.ROOT);
        return "a JSON object";
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
