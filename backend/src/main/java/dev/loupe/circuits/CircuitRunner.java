package dev.loupe.circuits;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.model.Tensor;
import dev.loupe.runtime.OrtRuntime;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs the {@link CircuitGraphs} of one model with ONNX Runtime: a session per variant, made on first use, and one
 * copy of the weights in direct buffers shared by all of them. Arrays are row-major float32 in the graphs' layouts.
 */
public final class CircuitRunner implements AutoCloseable {
    private final GptWeights weights;
    private final GptConfig config;
    private final EdgeGraph edges;
    private final OrtEnvironment env;
    private final int threads;
    private final Map<String, OnnxTensor> weightFeeds = new HashMap<>();
    private final Map<CircuitGraphs.Variant, OrtSession> sessions = new EnumMap<>(CircuitGraphs.Variant.class);

    public CircuitRunner(GptWeights weights, int threads) {
        this.weights = weights;
        this.config = weights.config();
        this.edges = new EdgeGraph(config);
        this.threads = threads;
        this.env = OrtRuntime.env(threads);
        try {
            for (var e : weights.tensors().entrySet()) {
                weightFeeds.put(e.getKey(), OrtRuntime.directTensor(env, e.getValue().data(), e.getValue().shape()));
            }
        } catch (OrtException e) {
            close();
            throw new IllegalStateException("could not hand the weights to ONNX Runtime: " + e.getMessage(), e);
        }
    }

    public GptConfig config() { return config; }
    public EdgeGraph edges() { return edges; }
    public GptWeights weights() { return weights; }

    private synchronized OrtSession session(CircuitGraphs.Variant v) throws OrtException {
        OrtSession s = sessions.get(v);
        if (s == null) {
            s = OrtRuntime.session(CircuitGraphs.compile(config, v), threads);
            sessions.put(v, s);
        }
        return s;
    }

    /** The {@code input} sender (token + position embedding) of right-padded prompts: [pairs, pos, d]. */
    public float[] embed(int[][] tokens, int pos) {
        int d = config.dModel();
        float[] wte = weights.get("wte.weight").data(), wpe = weights.get("wpe.weight").data();
        float[] out = new float[tokens.length * pos * d];
        for (int p = 0; p < tokens.length; p++)
            for (int t = 0; t < pos; t++) {
                int tok = t < tokens[p].length ? tokens[p][t] : 0, o = (p * pos + t) * d;
                for (int i = 0; i < d; i++) out[o + i] = wte[tok * d + i] + wpe[t * d + i];
            }
        return out;
    }

    /** Every sender's output [senders, pairs, pos, d] and the last position's logits [pairs, vocab]. */
    public record Senders(float[] senders, float[] logitsLast) {}

    public Senders senders(float[] embed, float[] last, int pairs, int pos) {
        Map<String, float[]> out = run(CircuitGraphs.Variant.SENDERS, embed, last, pairs, pos, Map.of(), Map.of());
        return new Senders(out.get(CircuitGraphs.SENDERS_OUT), out.get(CircuitGraphs.LOGITS_LAST));
    }

    /** Exact evaluation of {@code sets} edge sets ({@code absent} [sets, senders, receivers]): logits [sets, pairs, vocab]. */
    public float[] mixed(float[] embed, float[] last, int pairs, int pos, float[] corrupt, float[] absent, int sets) {
        return run(CircuitGraphs.Variant.MIXED, embed, last, pairs, pos,
                Map.of(CircuitGraphs.CORRUPT, new Tensor(corrupt, edges.senderCount(), pairs, pos, config.dModel()),
                        CircuitGraphs.ABSENT, new Tensor(absent, sets, edges.senderCount(), edges.receiverCount())), Map.of())
                .get(CircuitGraphs.LOGITS_LAST);
    }

    /** Edge scores [senders, receivers] summed over pairs, and the metric summed over pairs. */
    public record Scores(float[] scores, float metric) {}

    public Scores scores(float[] embed, float[] last, int pairs, int pos, long[] answer, long[] wrong, float[] delta) {
        Map<String, float[]> out = run(CircuitGraphs.Variant.SCORES, embed, last, pairs, pos,
                Map.of(CircuitGraphs.DELTA, new Tensor(delta, edges.senderCount(), pairs, pos, config.dModel())),
                Map.of(CircuitGraphs.ANSWER, answer, CircuitGraphs.WRONG, wrong));
        return new Scores(out.get(CircuitGraphs.SCORES_OUT), out.get(CircuitGraphs.METRIC)[0]);
    }

    private Map<String, float[]> run(CircuitGraphs.Variant v, float[] embed, float[] last, int pairs, int pos,
                                     Map<String, Tensor> floats, Map<String, long[]> ids) {
        Map<String, OnnxTensor> feeds = new HashMap<>(weightFeeds);
        List<OnnxTensor> own = new ArrayList<>();
        try {
            own.add(put(feeds, CircuitGraphs.EMBED, OnnxTensor.createTensor(env, FloatBuffer.wrap(embed), new long[]{pairs, pos, config.dModel()})));
            own.add(put(feeds, CircuitGraphs.LAST, OnnxTensor.createTensor(env, FloatBuffer.wrap(last), new long[]{pairs, pos})));
            for (var e : floats.entrySet())
                own.add(put(feeds, e.getKey(), OnnxTensor.createTensor(env, FloatBuffer.wrap(e.getValue().data()), OrtRuntime.shape(e.getValue().shape()))));
            for (var e : ids.entrySet())
                own.add(put(feeds, e.getKey(), OnnxTensor.createTensor(env, LongBuffer.wrap(e.getValue()), new long[]{e.getValue().length})));
            try (OrtSession.Result r = session(v).run(feeds)) {
                Map<String, float[]> out = new HashMap<>();
                for (Map.Entry<String, OnnxValue> e : r) {
                    FloatBuffer fb = ((OnnxTensor) e.getValue()).getFloatBuffer();
                    float[] a = new float[fb.remaining()];
                    fb.get(a);
                    out.put(e.getKey(), a);
                }
                return out;
            }
        } catch (OrtException e) {
            throw new IllegalStateException("circuit graph failed: " + e.getMessage(), e);
        } finally {
            for (OnnxTensor t : own) t.close();
        }
    }

    private static OnnxTensor put(Map<String, OnnxTensor> feeds, String name, OnnxTensor t) {
        feeds.put(name, t);
        return t;
    }

    @Override public synchronized void close() {
        OrtRuntime.closeAll(sessions.values());
        sessions.clear();
        for (OnnxTensor t : weightFeeds.values()) t.close();
        weightFeeds.clear();
    }
}
