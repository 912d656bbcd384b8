package dev.loupe.grad;

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
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Runs {@link GradGraph}s with ONNX Runtime: one session per {@link GradGraph.Spec}, made on first use. Weights are
 * fed as ONNX tensors the caller owns; {@link #weightFeeds} wraps direct buffers, so a trainer that updates those
 * buffers in place needs no copies between steps.
 */
public final class Backprop implements AutoCloseable {
    /** What a run returns: the metric and every output of the spec by its graph name. */
    public record Result(float metric, Map<String, Tensor> outputs) {
        public Tensor get(String name) {
            Tensor t = outputs.get(name);
            if (t == null) throw new IllegalArgumentException("no output " + name);
            return t;
        }
    }

    private final GradGraph graphs;
    private final OrtEnvironment env;
    private final int threads;
    private final Map<GradGraph.Spec, OrtSession> sessions = new HashMap<>();

    public Backprop(GptConfig config, int threads) {
        this.graphs = new GradGraph(config);
        this.threads = threads;
        this.env = OrtRuntime.env(threads);
    }

    public Backprop(GptConfig config) { this(config, Runtime.getRuntime().availableProcessors()); }

    public GptConfig config() { return graphs.config(); }
    public OrtEnvironment env() { return env; }

    private synchronized OrtSession session(GradGraph.Spec spec) throws OrtException {
        OrtSession s = sessions.get(spec);
        if (s == null) {
            s = OrtRuntime.session(graphs.compile(spec), threads);
            sessions.put(spec, s);
        }
        return s;
    }

    /** ONNX tensors over direct copies of the weights (close them when done). */
    public Map<String, OnnxTensor> weightFeeds(GptWeights weights) throws OrtException {
        Map<String, OnnxTensor> m = new LinkedHashMap<>();
        for (var e : weights.tensors().entrySet()) m.put(e.getKey(), tensor(e.getValue().data(), e.getValue().shape()));
        return m;
    }

    /** A tensor over a new direct buffer holding {@code data}. */
    public OnnxTensor tensor(float[] data, int[] shape) throws OrtException {
        return OrtRuntime.directTensor(env, data, shape);
    }

    /** A tensor over a direct buffer the caller keeps writing to. */
    public OnnxTensor wrap(FloatBuffer direct, int[] shape) throws OrtException {
        return OnnxTensor.createTensor(env, direct, OrtRuntime.shape(shape));
    }

    /**
     * Runs the graph of {@code spec} on {@code batch} rows of {@code len} tokens.
     *
     * @param weights ONNX tensors by weight name (see {@link #weightFeeds})
     */
    public Result run(GradGraph.Spec spec, Map<String, OnnxTensor> weights, int[] tokens, Metric.Ports ports) {
        int batch = ports.batch(), len = ports.len();
        if (tokens.length != batch * len) throw new IllegalArgumentException("expected " + batch * len + " tokens, got " + tokens.length);
        Map<String, OnnxTensor> feeds = new HashMap<>(weights);
        OnnxTensor[] own = new OnnxTensor[4];
        try {
            long[] ids = new long[tokens.length];
            for (int i = 0; i < ids.length; i++) ids[i] = tokens[i];
            own[0] = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[]{batch, len});
            own[1] = OnnxTensor.createTensor(env, LongBuffer.wrap(ports.idx()), new long[]{batch, len, ports.k()});
            own[2] = OnnxTensor.createTensor(env, FloatBuffer.wrap(ports.val()), new long[]{batch, len, ports.k()});
            own[3] = OnnxTensor.createTensor(env, FloatBuffer.wrap(ports.lse()), new long[]{batch, len});
            feeds.put(GradGraph.TOKENS, own[0]);
            feeds.put(GradGraph.METRIC_IDX, own[1]);
            feeds.put(GradGraph.METRIC_VAL, own[2]);
            feeds.put(GradGraph.METRIC_LSE, own[3]);
            try (OrtSession.Result r = session(spec).run(feeds)) {
                float metric = 0;
                Map<String, Tensor> out = new LinkedHashMap<>();
                for (Map.Entry<String, OnnxValue> e : r) {
                    OnnxTensor t = (OnnxTensor) e.getValue();
                    if (e.getKey().equals(GradGraph.METRIC)) metric = t.getFloatBuffer().get(0);
                    else out.put(e.getKey(), toTensor(t));
                }
                return new Result(metric, out);
            }
        } catch (OrtException e) {
            throw new IllegalStateException("gradient graph failed: " + e.getMessage(), e);
        } finally {
            for (OnnxTensor t : own) if (t != null) t.close();
        }
    }

    static Tensor toTensor(OnnxTensor t) {
        long[] shape = t.getInfo().getShape();
        int[] s = new int[shape.length];
        for (int i = 0; i < s.length; i++) s[i] = (int) shape[i];
        return new Tensor(t.getFloatBuffer().array(), s);
    }

    @Override public synchronized void close() {
        OrtRuntime.closeAll(sessions.values());
        sessions.clear();
    }
}
