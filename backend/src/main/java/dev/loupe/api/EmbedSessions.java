package dev.loupe.api;

import io.vertx.core.MultiMap;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

import java.util.List;
import java.util.Set;

/**
 * A page opened with {@code ?embed=true} inside another site's page (a neuron page in a blog post) talks to its
 * server session from a cross-site frame. Browsers keep a cookie there only when it is {@code SameSite=None} and
 * {@code Secure}, and, where third-party cookies are blocked, {@code Partitioned} (kept for that one embedding site).
 * So the session cookie set by such a page gets the three, where a browser keeps a Secure cookie: over HTTPS (also
 * behind a proxy that forwards the scheme) and on loopback addresses, which browsers treat as secure. Over plain HTTP
 * elsewhere it is left as it is (an embed then works only on the same site).
 */
@ApplicationScoped
public class EmbedSessions {
    private static final Set<String> LOOPBACK = Set.of("localhost", "127.0.0.1", "[::1]");

    void routes(@Observes Router router) {
        router.route().order(Integer.MIN_VALUE + 1).handler(this::handle);
    }

    private void handle(RoutingContext rc) {
        if (embed(rc) && secure(rc)) rc.addHeadersEndHandler(v -> crossSite(rc.response().headers()));
        rc.next();
    }

    private static boolean embed(RoutingContext rc) {
        String q = rc.request().query();
        return q != null && ("&" + q + "&").contains("&embed=true&");
    }

    private static boolean secure(RoutingContext rc) {
        if ("https".equals(rc.request().scheme())) return true;
        String host = rc.request().authority() == null ? "" : rc.request().authority().host();
        return LOOPBACK.contains(host) || LOOPBACK.contains("[" + host + "]");
    }

    static void crossSite(MultiMap headers) {
        List<String> cookies = headers.getAll("Set-Cookie");
        if (cookies.isEmpty()) return;
        headers.remove("Set-Cookie");
        for (String c : cookies)
            headers.add("Set-Cookie", c.startsWith("JSESSIONID=") && !c.toLowerCase(java.util.Locale.ROOT).contains("samesite") ? c + "; SameSite=None; Secure; Partitioned" : c);
    }
}
