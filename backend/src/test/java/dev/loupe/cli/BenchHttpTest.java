package dev.loupe.cli;

import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BenchHttpTest {

    @Test
    void percentilesAreNearestRank() {
        double[] v = BenchHttp.sorted(List.of(5.0, 1.0, 4.0, 2.0, 3.0, 10.0, 9.0, 8.0, 7.0, 6.0));
        assertEquals(1.0, BenchHttp.percentile(v, 0));
        assertEquals(5.0, BenchHttp.percentile(v, 50));
        assertEquals(10.0, BenchHttp.percentile(v, 95));
        assertEquals(9.0, BenchHttp.percentile(v, 90));
        assertEquals(10.0, BenchHttp.percentile(v, 100));
        assertTrue(Double.isNaN(BenchHttp.percentile(new double[0], 95)));
    }

    @Test
    void getsWithHeadersFromTheBase() throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", ex -> {
            byte[] body = (ex.getRequestURI() + " " + ex.getRequestHeaders().getFirst("X-Forwarded-For")).getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        server.start();
        try {
            BenchHttp http = new BenchHttp("http://127.0.0.1:" + server.getAddress().getPort() + "//", Duration.ofSeconds(10));
            var r = http.get("/api/v1/x?text=" + BenchHttp.enc("a b+c"), "X-Forwarded-For", "10.0.0.1");
            assertEquals(200, r.statusCode());
            assertEquals("/api/v1/x?text=a%20b%2Bc 10.0.0.1", new String(r.body(), StandardCharsets.UTF_8));
        } finally {
            server.stop(0);
        }
    }
}
