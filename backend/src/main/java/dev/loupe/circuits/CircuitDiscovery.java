package dev.loupe.circuits;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.jobs.Progress;

import java.util.BitSet;
import java.util.List;
import java.util.Locale;

/**
 * One circuit-discovery run end to end: scores by the chosen method, then the faithfulness curves, as the JSON that
 * the CLI writes, the REST API returns and the graph view exports.
 */
public final class CircuitDiscovery {
    public enum Method {
        EAP("eap"), EAP_IG("eap-ig"), ACDC("acdc");
        public final String id;
        Method(String id) { this.id = id; }

        public static Method parse(String s) {
            for (Method m : values()) if (m.id.equalsIgnoreCase(s == null ? "" : s.trim())) return m;
            throw new IllegalArgumentException("unknown method '" + s + "': use eap, eap-ig or acdc");
        }
    }

    /** What to run: {@code steps} for EAP-IG, {@code tau} and {@code objective} for ACDC. */
    public record Request(Method method, int steps, double tau, Acdc.Objective objective) {
        public static final int DEFAULT_STEPS = 5;
        public static final double DEFAULT_TAU = 0.05;

        public Request {
            if (steps < 1 || steps > 100) throw new IllegalArgumentException("steps must be between 1 and 100, got " + steps);
            if (!(tau >= 0) || Double.isInfinite(tau)) throw new IllegalArgumentException("tau must be a non-negative number, got " + tau);
        }

        public ObjectNode toJson() {
            ObjectNode o = new ObjectMapper().createObjectNode().put("method", method.id);
            if (method == Method.EAP_IG) o.put("steps", steps);
            if (method == Method.ACDC) o.put("tau", tau).put("objective", objective.name().toLowerCase(Locale.ROOT));
            return o;
        }
    }

    private CircuitDiscovery() {}

    public static ObjectNode run(CircuitAnalysis a, Request req, Progress progress) {
        float[] scores;
        BitSet kept = null;
        Progress first = scaled(progress, 0, 0.7);
        switch (req.method()) {
            case EAP -> scores = a.eap();
            case EAP_IG -> scores = a.eapIg(req.steps(), first);
            default -> {
                Acdc.Result r = Acdc.run(a, req.tau(), req.objective(), first);
                scores = r.damage();
                kept = r.kept();
            }
        }
        Faithfulness.Curves curves = Faithfulness.curves(a, scores, scaled(progress, 0.7, 1.0));
        ObjectNode out = toJson(a, req, scores, curves);
        if (kept != null) {
            double m = a.evaluate(List.of(kept), Progress.NONE).get(0).metric();
            out.putObject("acdc").put("edges_kept", kept.cardinality()).put("metric", m).put("faithfulness", a.faithfulness(m));
            ArrayNode edges = (ArrayNode) out.get("edges");
            for (int e = 0; e < scores.length; e++) ((ObjectNode) edges.get(e)).put("in_circuit", kept.get(e));
        }
        progress.report(1, "done");
        return out;
    }

    static ObjectNode toJson(CircuitAnalysis a, Request req, float[] scores, Faithfulness.Curves curves) {
        ObjectMapper json = new ObjectMapper();
        EdgeGraph g = a.edges();
        ObjectNode out = json.createObjectNode();
        out.put("method", req.method().id);
        out.set("parameters", req.toJson());
        out.put("clean_metric", a.cleanMetric()).put("corrupt_metric", a.corruptMetric());
        ArrayNode edges = out.putArray("edges");
        for (int e = 0; e < scores.length; e++)
            edges.addObject().put("from", g.sender(g.senderOf(e))).put("to", g.receiver(g.receiverOf(e))).put("score", scores[e]);
        out.set("faithfulness", points(json, curves.topN()));
        out.set("faithfulness_greedy", points(json, curves.greedy()));
        out.set("dataset", a.dataset().toJson());
        return out;
    }

    private static ArrayNode points(ObjectMapper json, List<Faithfulness.Point> pts) {
        ArrayNode arr = json.createArrayNode();
        for (Faithfulness.Point p : pts) arr.addObject().put("n", p.n()).put("metric", p.metric()).put("faithfulness", p.faithfulness());
        return arr;
    }

    /** Reports of a sub-step mapped into [from, to] of the whole. */
    static Progress scaled(Progress p, double from, double to) {
        return new Progress() {
            @Override public void report(double f, String m) { p.report(from + (to - from) * f, m); }
            @Override public boolean cancelled() { return p.cancelled(); }
        };
    }
}
