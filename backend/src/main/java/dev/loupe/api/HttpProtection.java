package dev.loupe.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.serving.RateLimiter;
import io.vertx.core.MultiMap;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.util.regex.Pattern;

/**
 * Runs before every route (API, UI, /q): security headers on every response, and on the API a per-client limit of
 * requests per minute ({@code loupe.rate-limit.per-minute}, off unless set; the hosted demo sets it) answered with a
 * JSON 429 and Retry-After. Pages are not framed, except the embed routes opened with {@code ?embed=true}
 * ({@code loupe.http.embed-paths}, e.g. a neuron page in a blog post).
 */
@ApplicationScoped
public class HttpProtection {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String csp;
    private final String embedAncestors;
    private final Pattern embedPaths;
    private final RateLimiter limiter;

    public HttpProtection(@ConfigProperty(name = "loupe.http.content-security-policy") String csp,
                          @ConfigProperty(name = "loupe.http.embed-frame-ancestors", defaultValue = "*") String embedAncestors,
                          @ConfigProperty(name = "loupe.http.embed-paths", defaultValue = "/model/[^/]+/neurons/\\d+/\\d+") String embedPaths,
                          @ConfigProperty(name = "loupe.rate-limit.per-minute", defaultValue = "0") int perMinute) {
        this.csp = csp.trim();
        this.embedAncestors = embedAncestors.trim();
        this.embedPaths = Pattern.compile(embedPaths);
        this.limiter = perMinute > 0 ? new RateLimiter(perMinute) : null;
    }

    void routes(@Observes Router router) {
        router.route().order(Integer.MIN_VALUE).handler(this::handle);
    }

    private void handle(RoutingContext rc) {
        String path = path(rc);
        boolean embed = embedPaths.matcher(path).matches() && embedRequested(rc);
        rc.addHeadersEndHandler(v -> headers(rc.response().headers(), embed));
        if (limiter != null && path.startsWith("/api/")) {
            int wait = limiter.acquire(Clients.of(rc.request()), System.nanoTime());
            if (wait > 0) {
                refuse(rc, wait);
                return;
            }
        }
        rc.next();
    }

    /** The normalised path, or the raw one when it has a malformed escape (HttpEdge then answers a JSON 400). */
    private static String path(RoutingContext rc) {
        try {
            return rc.normalizedPath();
        } catch (IllegalArgumentException e) {
            return rc.request().path() == null ? "" : rc.request().path();
        }
    }

    private static boolean embedRequested(RoutingContext rc) {
        try {
            return "true".equals(rc.request().getParam("embed"));
        } catch (IllegalArgumentException e) {
            return false; // a malformed query escape: HttpEdge answers the request with a JSON 400
        }
    }

    private void headers(MultiMap h, boolean embed) {
        h.set("X-Content-Type-Options", "nosniff");
        h.set("Referrer-Policy", "same-origin");
        if (!csp.isEmpty()) h.set("Content-Security-Policy", csp + "; frame-ancestors " + (embed ? embedAncestors : "'none'"));
        if (!embed) h.set("X-Frame-Options", "DENY");
    }

    private void refuse(RoutingContext rc, int retryAfter) {
        String body;
        try {
            body = JSON.writeValueAsString(new ApiError(429, "Too Many Requests", "too many requests: at most " + limiter.perMinute()
                    + " API requests per minute per client on this server (loupe.rate-limit.per-minute); retry in " + retryAfter + " s"));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        rc.response().setStatusCode(429).putHeader("Content-Type", "application/json").putHeader("Retry-After", String.valueOf(retryAfter)).end(body);
    }
}
