package dev.loupe.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.loupe.e2e.Explore.JSON;
import static dev.loupe.e2e.Explore.PROMPT;
import static dev.loupe.e2e.Explore.enc;

/**
 * Property-based fuzzing of every endpoint of the OpenAPI document (so new endpoints are covered without listing
 * them): random and hostile values for every path and query parameter, sent as a GET query or as a POST JSON body,
 * random JSON bodies for the POST endpoints, and raw URLs with unencoded escapes and path fragments. Every answer must
 * be a 2xx or a JSON 4xx {status, error, message}: never a 5xx, never HTML. The tries are bounded to keep CI short.
 */
class ApiFuzzTest {
    private static final LoupeApp app = LoupeApp.get();
    private static final List<Op> OPS = operations();

    /** One operation of the OpenAPI document: method, path template, its parameters, whether it may start a job (202). */
    record Op(String method, String path, List<String> pathParams, List<String> queryParams, boolean startsJobs) {}

    /** A request as sent, with a short description for the failure report. */
    record Call(String method, String target, String contentType, byte[] body) {
        @Override
        public String toString() {
            return method + " " + RawHttp.abbreviate(target) + (body == null ? "" : " " + RawHttp.abbreviate(new String(body, StandardCharsets.UTF_8)));
        }
    }

    private static List<Op> operations() {
        try {
            JsonNode paths = JSON.readTree(app.get("/q/openapi?format=json").body()).get("paths");
            List<Op> ops = new ArrayList<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = paths.fields(); it.hasNext(); ) {
                var p = it.next();
                if (!p.getKey().startsWith("/api/")) continue;
                for (Iterator<Map.Entry<String, JsonNode>> m = p.getValue().fields(); m.hasNext(); ) {
                    var op = m.next();
                    List<String> path = new ArrayList<>(), query = new ArrayList<>();
                    for (JsonNode param : op.getValue().path("parameters")) {
                        if (param.path("in").asText().equals("path")) path.add(param.get("name").asText());
                        if (param.path("in").asText().equals("query")) query.add(param.get("name").asText());
                    }
                    ops.add(new Op(op.getKey().toUpperCase(), p.getKey(), path, query, op.getValue().path("responses").has("202")));
                }
            }
            if (ops.size() < 20) throw new IllegalStateException("too few API operations in the OpenAPI document: " + ops);
            return ops;
        } catch (Exception e) {
            throw new IllegalStateException("cannot read the OpenAPI document: " + e.getMessage(), e);
        }
    }

    // ------------------------------------------------------------------ the properties

    @Property(tries = 250)
    void everyParameterOfEveryEndpoint(@ForAll("parameterCalls") Call call) {
        check(call);
    }

    @Property(tries = 120)
    void jsonBodiesOfThePostEndpoints(@ForAll("bodyCalls") Call call) {
        check(call);
    }

    @Property(tries = 120)
    void rawUrls(@ForAll("rawCalls") Call call) {
        check(call);
    }

    private static void check(Call c) {
        RawHttp.Response r = RawHttp.send(app.port(), c.method(), c.target(),
                c.contentType() == null ? Map.of() : Map.of("Content-Type", c.contentType()), c.body());
        String type = String.valueOf(r.header("content-type"));
        if (r.status() >= 500) throw new AssertionError(c + " → " + r.status() + ": " + RawHttp.abbreviate(r.body()));
        if (type.startsWith("text/html")) throw new AssertionError(c + " → HTML (" + r.status() + ")");
        if (c.method().equals("HEAD")) return; // a HEAD answer has the headers of a GET and never a body
        if (r.status() >= 400) {
            if (!type.startsWith("application/json")) throw new AssertionError(c + " → " + r.status() + " as " + type + ": " + RawHttp.abbreviate(r.body()));
            JsonNode b;
            try {
                b = JSON.readTree(r.body());
            } catch (Exception e) {
                throw new AssertionError(c + " → " + r.status() + " with a body that is not JSON: " + RawHttp.abbreviate(r.body()));
            }
            if (b.path("status").asInt() != r.status() || b.path("error").asText().isEmpty() || b.path("message").asText().isEmpty())
                throw new AssertionError(c + " → " + r.status() + " without {status, error, message}: " + RawHttp.abbreviate(r.body()));
        } else if (r.status() < 200 || r.status() >= 300) {
            throw new AssertionError(c + " → " + r.status());
        } else if (type.startsWith("application/json")) {
            try {
                JSON.readTree(r.body());
            } catch (Exception e) {
                throw new AssertionError(c + " → 2xx JSON that does not parse: " + RawHttp.abbreviate(r.body()));
            }
        }
    }

    // ------------------------------------------------------------------ requests

    @Provide
    Arbitrary<Call> parameterCalls() {
        return Arbitraries.of(OPS).flatMap(op -> {
            Arbitrary<List<String>> path = combine(op.pathParams().stream().map(n -> pathValue(n, op)).toList());
            Arbitrary<List<Object>> query = combine(op.queryParams().stream().map(n -> queryValue(n).injectNull(0.3)).toList());
            boolean asBody = op.method().equals("GET");
            return Combinators.combine(path, query, Arbitraries.of(false, asBody)).as((p, q, post) -> {
                String target = fill(op, p);
                if (op.method().equals("GET") && post) {
                    Map<String, Object> body = new LinkedHashMap<>();
                    for (int i = 0; i < q.size(); i++) if (q.get(i) != null) body.put(op.queryParams().get(i), q.get(i));
                    return new Call("POST", target, "application/json", json(body));
                }
                StringBuilder s = new StringBuilder();
                for (int i = 0; i < q.size(); i++)
                    if (q.get(i) != null) s.append(s.isEmpty() ? "?" : "&").append(enc(op.queryParams().get(i))).append('=').append(enc(asText(q.get(i))));
                byte[] body = op.method().equals("GET") || op.method().equals("DELETE") ? null : json(Map.of());
                return new Call(op.method(), target + s, body == null ? null : "application/json", body);
            });
        });
    }

    @Provide
    Arbitrary<Call> bodyCalls() {
        List<Op> posts = OPS.stream().filter(o -> o.method().equals("POST")).toList();
        return Arbitraries.of(posts).flatMap(op -> {
            Arbitrary<List<String>> path = combine(op.pathParams().stream().map(n -> pathValue(n, op)).toList());
            Arbitrary<byte[]> body = Arbitraries.frequencyOf(
                    net.jqwik.api.Tuple.of(4, Arbitraries.maps(Arbitraries.of(fieldNames()), jsonValue()).ofMaxSize(5).map(ApiFuzzTest::json)),
                    net.jqwik.api.Tuple.of(1, jsonValue().map(ApiFuzzTest::json)),
                    net.jqwik.api.Tuple.of(1, Arbitraries.strings().ofMaxLength(40).map(s -> s.getBytes(StandardCharsets.UTF_8))));
            Arbitrary<String> type = Arbitraries.of("application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded");
            return Combinators.combine(path, body, type.injectNull(0.1)).as((p, b, t) -> new Call("POST", fill(op, p), t, b));
        });
    }

    @Provide
    Arbitrary<Call> rawCalls() {
        Arbitrary<String> endpoint = Arbitraries.of(OPS).map(o -> o.path().replaceAll("\\{model}", LoupeApp.MODEL).replaceAll("\\{[^}]*}", "0"));
        Arbitrary<String> fragment = Arbitraries.oneOf(
                Arbitraries.strings().withCharRange('!', '~').ofMaxLength(30),
                Arbitraries.of("%", "%%", "%zz", "%2", "%00", "%2e%2e", "..", ".", "//", "%2F", "\\", ";x=1", "?", "#", "&&", "=", "ä", "🙂", "%C3%28", "%FF"));
        Arbitrary<String> method = Arbitraries.of("GET", "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD");
        return Combinators.combine(endpoint, fragment, fragment, Arbitraries.integers().between(0, 3), method).as((e, f1, f2, where, m) -> {
            String target = switch (where) {
                case 0 -> e + "?text=" + f1 + "&layer=" + f2;
                case 1 -> e + "/" + f1 + "/" + f2;
                case 2 -> "/api/" + f1 + "/" + f2;
                default -> e.replace("/v1/", "/" + f1 + "/") + "?" + f2;
            };
            boolean body = m.equals("POST") || m.equals("PUT") || m.equals("PATCH");
            return new Call(m, target, body ? "application/json" : null, body ? "{}".getBytes(StandardCharsets.UTF_8) : null);
        });
    }

    // ------------------------------------------------------------------ values

    /** The model of an operation that may start a job is never a real one: a random fuzz must not start indexing. */
    private static Arbitrary<String> pathValue(String name, Op op) {
        if (name.equals("model") || name.equals("name")) {
            Arbitrary<String> fake = Arbitraries.oneOf(hostile(), Arbitraries.just("no-such-model"));
            if (op.startsJobs()) return fake;
            return Arbitraries.frequencyOf(net.jqwik.api.Tuple.of(6, Arbitraries.of(LoupeApp.MODEL, "placeholder-tiny")),
                    net.jqwik.api.Tuple.of(1, Arbitraries.just(LoupeApp.BROKEN_MODEL)), net.jqwik.api.Tuple.of(2, fake));
        }
        return Arbitraries.frequencyOf(net.jqwik.api.Tuple.of(3, Arbitraries.integers().between(-2, 300).map(String::valueOf)),
                net.jqwik.api.Tuple.of(2, hostile()));
    }

    /** Plausible values (to get past the first check) mixed with hostile ones. */
    private static Arbitrary<Object> queryValue(String name) {
        Arbitrary<?> plausible = switch (name) {
            case "text" -> Arbitraries.of("Hello world", PROMPT, "a", " ", "\n\n", "🙂 ünïcödé");
            case "layer", "head", "position", "index", "neuron" -> Arbitraries.integers().between(-5, 5);
            case "token", "a", "b", "fires", "predicts" -> Arbitraries.of("·the", "·mat", "#262", "the", "#-1", "Paris");
            case "hook" -> Arbitraries.of("blocks.0.hook_resid_post", "blocks.1.attn.hook_pattern", "hook_embed", "ln_final.hook_normalized");
            case "ids" -> Arbitraries.of("15496,995", "50256", "1,,2", "-1");
            case "length" -> Arbitraries.integers().between(-1, 70);
            case "batch" -> Arbitraries.integers().between(-1, 4);
            case "seed" -> Arbitraries.longs();
            case "weighted", "job" -> Arbitraries.of("true", "false", "yes");
            case "format" -> Arbitraries.of("json", "safetensors", "xml");
            default -> hostile();
        };
        return Arbitraries.oneOf(plausible.map(v -> (Object) v), hostile().map(v -> (Object) v), jsonValue());
    }

    /** Strings meant to break parsers: unicode, control characters, huge and odd numbers, path fragments, escapes, long text. */
    private static Arbitrary<String> hostile() {
        return Arbitraries.oneOf(
                Arbitraries.strings().all().ofMaxLength(30),
                Arbitraries.strings().withCharRange('\u0000', '\u001f').ofMaxLength(5),
                Arbitraries.of("", " ", "NaN", "Infinity", "-Infinity", "1e400", "-0", "0x10", "1.5", "+1",
                        "99999999999999999999999", "-2147483649", "2147483648", "9223372036854775808", "-9223372036854775809",
                        "#", "#-1", "#99999999", "·", "../../etc/passwd", "..", ".", "%", "%zz", "%00", "/", "//", "\\",
                        "<script>alert(1)</script>", "null", "true", "{}", "[]", "\u0000", "\uFFFF", "\uD800", "🙂", "ÿ",
                        "a,b", "1,2,3", "' OR 1=1 --"),
                Arbitraries.strings().withChars("ab ·🙂").ofMinLength(1000).ofMaxLength(6000),
                Arbitraries.bigIntegers().between(BigInteger.TEN.pow(30).negate(), BigInteger.TEN.pow(30)).map(BigInteger::toString));
    }

    /** Any JSON value: strings, numbers (NaN is written as a string), booleans, null, arrays and objects. */
    private static Arbitrary<Object> jsonValue() {
        Arbitrary<Object> scalar = Arbitraries.oneOf(hostile().map(v -> (Object) v), Arbitraries.longs().map(v -> (Object) v),
                Arbitraries.doubles().map(v -> (Object) v), Arbitraries.of(true, false).map(v -> (Object) v),
                Arbitraries.just(null), Arbitraries.bigIntegers().between(BigInteger.TEN.pow(40).negate(), BigInteger.TEN.pow(40)).map(v -> (Object) v));
        return Arbitraries.oneOf(scalar, scalar.list().ofMaxSize(4).map(v -> (Object) v),
                Arbitraries.maps(Arbitraries.of(fieldNames()), scalar).ofMaxSize(3).map(v -> (Object) v));
    }

    /** Field names the POST endpoints read, plus strangers. */
    private static List<String> fieldNames() {
        return List.of("text", "corrupted", "ids", "corruptedIds", "tokens", "metric", "sweep", "direction", "position", "a", "b",
                "method", "steps", "pairs", "dataset", "task", "edges", "kind", "params", "corpus", "layer", "head", "", "🙂", "__proto__");
    }

    // ------------------------------------------------------------------ helpers

    private static <T> Arbitrary<List<T>> combine(List<Arbitrary<T>> parts) {
        if (parts.isEmpty()) return Arbitraries.just(List.of());
        return Combinators.combine(parts).as(ArrayList::new);
    }

    private static String fill(Op op, List<String> values) {
        String t = op.path();
        for (int i = 0; i < values.size(); i++) t = t.replace("{" + op.pathParams().get(i) + "}", enc(values.get(i)));
        return t;
    }

    private static String asText(Object v) {
        if (v == null) return "";
        if (v instanceof String s) return s;
        try {
            return v instanceof Number || v instanceof Boolean ? v.toString() : JSON.writeValueAsString(v);
        } catch (Exception e) {
            return v.toString();
        }
    }

    private static byte[] json(Object v) {
        try {
            return JSON.writeValueAsBytes(v);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
