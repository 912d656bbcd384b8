package dev.loupe.serving;

import java.util.concurrent.ConcurrentHashMap;

/**
 * Requests per client and minute, as a token bucket per client: a client may send {@code perMinute} requests at
 * once and then one every {@code 60 / perMinute} seconds. Buckets of clients that went quiet are dropped.
 */
public final class RateLimiter {
    private static final int MAX_CLIENTS = 10_000;

    private final int perMinute;
    private final double tokensPerNano;
    private final ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();

    private static final class Bucket {
        double tokens;
        long at;

        Bucket(double tokens, long at) {
            this.tokens = tokens;
            this.at = at;
        }
    }

    public RateLimiter(int perMinute) {
        if (perMinute < 1) throw new IllegalArgumentException("requests per minute must be positive: " + perMinute);
        this.perMinute = perMinute;
        this.tokensPerNano = perMinute / 60e9;
    }

    public int perMinute() { return perMinute; }

    /** Takes one request of {@code client} at time {@code nowNanos}: 0 when allowed, else the seconds to wait. */
    public int acquire(String client, long nowNanos) {
        if (buckets.size() > MAX_CLIENTS) forgetFull(nowNanos);
        Bucket b = buckets.computeIfAbsent(client, c -> new Bucket(perMinute, nowNanos));
        synchronized (b) {
            b.tokens = Math.min(perMinute, b.tokens + (nowNanos - b.at) * tokensPerNano);
            b.at = nowNanos;
            if (b.tokens >= 1) {
                b.tokens -= 1;
                return 0;
            }
            return (int) Math.max(1, Math.ceil((1 - b.tokens) / tokensPerNano / 1e9));
        }
    }

    private void forgetFull(long nowNanos) {
        buckets.entrySet().removeIf(e -> {
            synchronized (e.getValue()) {
                return e.getValue().tokens + (nowNanos - e.getValue().at) * tokensPerNano >= perMinute;
            }
        });
    }
}
