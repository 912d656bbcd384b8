package dev.loupe.api;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.quarkus.runtime.configuration.MemorySize;
import io.quarkus.vertx.http.HttpServerOptionsCustomizer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.HttpException;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Any;
import jakarta.enterprise.inject.spi.Bean;
import jakarta.enterprise.inject.spi.BeanManager;
import jakarta.ws.rs.Path;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The API at the HTTP layer, before JAX-RS: every error under {@code /api/} is JSON {@code {status, error, message}}
 * (also those Vert.x raises itself: a malformed escape, a request line or headers over the limits, a body over the
 * limit), unknown paths are a JSON 404 and wrong methods a JSON 405 (so the UI's catch-all never answers under
 * {@code /api/}), and every GET endpoint also takes POST with its query parameters as a JSON object body, for
 * parameters too long for a URL.
 *
 * <p>Netty would answer an over-long request line or over-large headers itself with an empty body, so its limits are
 * raised ({@link #customizeHttpServer}) and the configured {@code quarkus.http.limits} are enforced here instead.
 */
@ApplicationScoped
public class HttpEdge implements HttpServerOptionsCustomizer {
    private static final Logger LOG = Logger.getLogger(HttpEdge.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** What Netty still buffers before this class sees a request; beyond it Vert.x answers with an empty body. */
    static final int NETTY_CAP = 1 << 20;
    private static final String CONVERT = "loupe.post-as-get", READ_BODY = "loupe.read-body", REROUTED = "loupe.rerouted";
    // before Quarkus's body-size route (ROUTE_ORDER_UPLOAD_LIMIT = -2), which answers 413 with an empty body
    private static final int ORDER = Integer.MIN_VALUE + 2;

    private final int maxLine;
    private final long maxHeaders;
    private final long maxBody;
    private volatile Endpoints endpoints = Endpoints.of(List.of());

    public HttpEdge(@ConfigProperty(name = "quarkus.http.limits.max-initial-line-length", defaultValue = "4096") int maxLine,
                    @ConfigProperty(name = "quarkus.http.limits.max-header-size", defaultValue = "20K") MemorySize maxHeaders,
                    @ConfigProperty(name = "quarkus.http.limits.max-body-size", defaultValue = "10240K") MemorySize maxBody) {
        this.maxLine = maxLine;
        this.maxHeaders = maxHeaders.asLongValue();
        this.maxBody = maxBody.asLongValue();
    }

    @Override
    public void customizeHttpServer(HttpServerOptions options) {
        options.setMaxInitialLineLength(Math.max(NETTY_CAP, maxLine + 1));
        options.setMaxHeaderSize((int) Math.max(NETTY_CAP, maxHeaders + 1));
    }

    void routes(@Observes Router router, BeanManager beans) {
        List<Class<?>> resources = new ArrayList<>();
        for (Bean<?> b : beans.getBeans(Object.class, Any.Literal.INSTANCE))
            if (b.getBeanClass().isAnnotationPresent(Path.class)) resources.add(b.getBeanClass());
        endpoints = Endpoints.of(resources);
        LOG.debugf("API routes: %s", endpoints.routes());

        router.route().order(Integer.MIN_VALUE).failureHandler(this::failure);
        router.route().order(ORDER).handler(this::edge);
        BodyHandler body = BodyHandler.create(false).setBodyLimit(maxBody);
        router.route().order(ORDER + 1).handler(ctx -> {
            if (ctx.get(READ_BODY) != null) body.handle(ctx);
            else ctx.next();
        });
        router.route().order(ORDER + 2).handler(this::postAsGet);
    }

    private void edge(RoutingContext ctx) {
        if (ctx.get(REROUTED) != null) {
            ctx.next();
            return;
        }
        HttpServerRequest req = ctx.request();
        if (req.uri().length() > maxLine) {
            error(ctx, 414, "the request line is longer than " + maxLine + " characters (" + req.uri().length()
                    + "): send long parameters as a JSON body with POST");
            return;
        }
        long headers = 0;
        for (Map.Entry<String, String> h : req.headers()) headers += h.getKey().length() + 2 + h.getValue().length();
        if (headers > maxHeaders) {
            error(ctx, 431, "the request headers are larger than " + maxHeaders + " bytes (" + headers + ")");
            return;
        }
        long length = contentLength(req);
        if (length > maxBody) {
            error(ctx, 413, "the body is larger than " + maxBody + " bytes (" + length + ")");
            return;
        }
        String raw = req.path() == null ? "" : req.path();
        String invalid = invalidUri(req.uri());
        if (invalid != null) {
            if (isApi(raw)) error(ctx, 400, invalid);
            else ctx.response().setStatusCode(400).end();
            return;
        }
        if (!isApi(raw) && !isApi(normalizedOrEmpty(ctx))) {
            ctx.next();
            return;
        }
        String path = ctx.normalizedPath();
        if (!raw.equals(path) && hasDotSegment(raw)) {
            error(ctx, 404, "no API endpoint at " + raw + " (a path must not contain . or .. segments)");
            return;
        }
        Endpoints.Match match = endpoints.match(path);
        if (match == null) {
            error(ctx, 404, "no API endpoint at " + path + " (the endpoints are listed at /q/openapi)");
            return;
        }
        String method = req.method().name();
        if (method.equals("POST") && !match.hasPost() && match.get() != null) {
            ctx.put(CONVERT, match.get());
            ctx.put(READ_BODY, true);
            ctx.next();
        } else if (method.equals("OPTIONS") || match.allows(method)) {
            // the resource reads its own body: one read here would leave it nothing ("Request has already been read");
            // a declared length over the limit was answered above. A chunked body declares none, and the resource's
            // reader would answer an over-limit one with an empty 413: it is read here against the limit (a JSON 413),
            // and the resource then reads the buffered body
            if (length < 0 && chunked(req)) ctx.put(READ_BODY, true);
            ctx.next();
        } else {
            ctx.response().putHeader(HttpHeaders.ALLOW, String.join(", ", match.methods()));
            error(ctx, 405, method + " is not allowed on " + path + "; allowed: " + String.join(", ", match.methods()));
        }
    }

    /** A POST to a GET endpoint: the JSON object's fields become the query parameters, and the request is routed as that GET. */
    private void postAsGet(RoutingContext ctx) {
        Endpoints.Route get = ctx.get(CONVERT);
        if (get == null) {
            ctx.next();
            return;
        }
        String type = ctx.request().getHeader(HttpHeaders.CONTENT_TYPE);
        if (type == null || !type.toLowerCase(java.util.Locale.ROOT).startsWith("application/json")) {
            error(ctx, 415, "send the parameters as a JSON object with Content-Type: application/json (got "
                    + (type == null ? "no Content-Type" : "'" + type + "'") + ")");
            return;
        }
        String query;
        try {
            query = query(ctx.body().buffer() == null ? new byte[0] : ctx.body().buffer().getBytes(), get,
                    ctx.request().query());
        } catch (IllegalArgumentException e) {
            error(ctx, 400, e.getMessage());
            return;
        }
        ctx.remove(CONVERT);
        ctx.put(REROUTED, true);
        ctx.reroute(HttpMethod.GET, ctx.request().path() + (query.isEmpty() ? "" : "?" + query));
    }

    /**
     * The query string for a JSON object body: strings, numbers and booleans as they are, an array as the parameter
     * repeated once per element (as a GET sends a list: {@code text=a&text=b}), null left out. Joining an array
     * into one parameter would change what it means: {@code ["a,b", "c"]} is two values, not three.
     */
    static String query(byte[] body, Endpoints.Route get, String existing) {
        JsonNode root;
        try {
            root = body.length == 0 ? JSON.createObjectNode() : JSON.readTree(body);
        } catch (JacksonException e) {
            throw new IllegalArgumentException("the body is not valid JSON: " + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("the body cannot be read: " + e.getMessage());
        }
        if (root == null || !root.isObject())
            throw new IllegalArgumentException("the body must be a JSON object of the endpoint's parameters, e.g. {\"text\": \"...\"}");
        Set<String> given = new HashSet<>();
        StringBuilder q = new StringBuilder(existing == null ? "" : existing);
        if (existing != null) for (String p : existing.split("&")) given.add(p.split("=", 2)[0]);
        for (var field : root.properties()) {
            String name = field.getKey();
            if (!get.queryParams().contains(name))
                throw new IllegalArgumentException("unknown parameter '" + name + "'; " + get.template() + " takes "
                        + (get.queryParams().isEmpty() ? "none" : String.join(", ", get.queryParams())));
            if (given.contains(name)) throw new IllegalArgumentException("parameter '" + name + "' is given in the query and in the body");
            for (String value : values(name, field.getValue())) {
                if (!q.isEmpty()) q.append('&');
                q.append(encode(name)).append('=').append(encode(value));
            }
        }
        return q.toString();
    }

    /** A field's values: none for null, one for a scalar, one per element for an array of scalars. */
    private static List<String> values(String name, JsonNode v) {
        if (v.isNull()) return List.of();
        if (v.isValueNode()) return List.of(v.asText());
        if (v.isArray()) {
            List<String> parts = new ArrayList<>();
            for (JsonNode e : v) {
                if (!e.isValueNode() || e.isNull()) throw new IllegalArgumentException("parameter '" + name + "' must be a string, number, boolean or an array of them");
                parts.add(e.asText());
            }
            return parts;
        }
        throw new IllegalArgumentException("parameter '" + name + "' must be a string, number, boolean or an array of them");
    }

    private static String encode(String s) { return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20"); }

    /** Failures raised by Vert.x or a handler (a malformed escape, a body over the limit...): JSON under /api/. */
    private void failure(RoutingContext ctx) {
        String raw = ctx.request().path() == null ? "" : ctx.request().path();
        if (!isApi(raw) && !isApi(normalizedOrEmpty(ctx))) {
            ctx.next();
            return;
        }
        Throwable t = ctx.failure();
        int status = ctx.statusCode();
        String message = null;
        if (t instanceof HttpException h) {
            status = h.getStatusCode();
            message = h.getPayload();
        } else if (status < 0 && t instanceof IllegalArgumentException) {
            status = 400;
        }
        if (status < 400) status = 500;
        if (status >= 500) {
            LOG.error("unexpected failure on " + raw, t);
            message = "internal error";
        } else if (message == null) {
            message = t != null && t.getMessage() != null ? t.getMessage() : defaultMessage(status);
        }
        error(ctx, status, message);
    }

    private static String defaultMessage(int status) {
        return switch (status) {
            case 413 -> "the body is too large";
            case 400 -> "malformed request (check the percent escapes of the URL)";
            default -> HttpResponseStatus.valueOf(status).reasonPhrase().toLowerCase(java.util.Locale.ROOT);
        };
    }

    /** Writes {@code {status, error, message}}; closes the connection where a body may be left unread. */
    static void error(RoutingContext ctx, int status, String message) {
        HttpServerResponse res = ctx.response();
        if (res.ended()) return;
        if (res.headWritten()) {
            res.end();
            return;
        }
        if (status == 413 || status == 414 || status == 431) res.putHeader(HttpHeaders.CONNECTION, "close");
        res.setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, "application/json;charset=UTF-8")
                .end(new JsonObject().put("status", status).put("error", HttpResponseStatus.valueOf(status).reasonPhrase())
                        .put("message", message).encode());
    }

    private static long contentLength(HttpServerRequest req) {
        String v = req.getHeader(HttpHeaders.CONTENT_LENGTH);
        if (v == null) return -1;
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static boolean chunked(HttpServerRequest req) {
        String te = req.getHeader(HttpHeaders.TRANSFER_ENCODING);
        return te != null && te.toLowerCase(java.util.Locale.ROOT).contains("chunked");
    }

    private static String normalizedOrEmpty(RoutingContext ctx) {
        try {
            return ctx.normalizedPath();
        } catch (IllegalArgumentException e) {
            return "";
        }
    }

    /**
     * Why a request target is not a valid URI, or null. Quarkus makes the same check but answers an empty 400; with
     * {@code -Dvertx.disableURIValidation=true} (set by ./loupe) it leaves it to this class.
     */
    static String invalidUri(String uri) {
        int bad = malformedEscape(uri);
        if (bad >= 0)
            return "malformed percent escape at character " + bad + " of the URL: '%' must be followed by two hex digits (write %25 for a literal %)";
        try {
            new java.net.URI(uri);
            return null;
        } catch (java.net.URISyntaxException e) {
            return "the URL is not valid: " + e.getReason() + " at character " + e.getIndex() + " (percent-encode it)";
        }
    }

    /** Where a '%' is not followed by two hex digits, or -1. */
    static int malformedEscape(String uri) {
        for (int i = uri.indexOf('%'); i >= 0; i = uri.indexOf('%', i + 1)) {
            if (i + 2 >= uri.length() || Character.digit(uri.charAt(i + 1), 16) < 0 || Character.digit(uri.charAt(i + 2), 16) < 0) return i;
        }
        return -1;
    }

    static boolean isApi(String path) { return path != null && (path.equals("/api") || path.startsWith("/api/")); }

    static boolean hasDotSegment(String path) {
        for (String s : path.split("/", -1)) {
            String d = s.replace("%2e", ".").replace("%2E", ".");
            if (d.equals(".") || d.equals("..")) return true;
        }
        return false;
    }
}
