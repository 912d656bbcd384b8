package dev.loupe.api;

import io.vertx.core.http.HttpServerRequest;

/**
 * Who a request comes from, for per-client limits and "my jobs": the remote address (behind a reverse proxy, enable
 * {@code quarkus.http.proxy.proxy-address-forwarding} so it is the browser's address, see docs/DEPLOY.md).
 */
public final class Clients {
    private Clients() {}

    public static String of(HttpServerRequest request) {
        if (request == null || request.remoteAddress() == null) return "local";
        String host = request.remoteAddress().hostAddress();
        return host == null ? "local" : host;
    }
}
