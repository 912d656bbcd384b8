package dev.loupe.compiler;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.google.protobuf.ByteString;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A small writer of ONNX graphs: each call adds a node and returns the name of its output, so graph code reads
 * like the arithmetic it builds. Dimensions are given as numbers or symbolic names ("batch", "pos").
 */
public final class GraphBuilder {
    public static final int OPSET = 20;
    public static final int IR_VERSION = 9;

    private final GraphProto.Builder graph = GraphProto.newBuilder();
    private final Map<String, String> constants = new HashMap<>();
    private int counter;

    public GraphBuilder(String name) { graph.setName(name); }

    /** A fresh internal value name. */
    public String fresh(String hint) { return hint + "_" + counter++; }

    public void input(String name, TensorProto.DataType type, Object... dims) { graph.addInput(valueInfo(name, type, dims)); }

    public void output(String name, TensorProto.DataType type, Object... dims) { graph.addOutput(valueInfo(name, type, dims)); }

    public boolean hasOutput(String name) { return graph.getOutputList().stream().anyMatch(v -> v.getName().equals(name)); }

    private static ValueInfoProto valueInfo(String name, TensorProto.DataType type, Object... dims) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (Object d : dims) {
            if (d instanceof Integer i) shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(i));
            else shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimParam(d.toString()));
        }
        TypeProto.Tensor.Builder t = TypeProto.Tensor.newBuilder().setElemType(type.getNumber()).setShape(shape);
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(t)).build();
    }

    /** Adds a node with one output named {@code out}; attributes are name/value pairs (Integer, Long, Float, long[], String). */
    public String op(String opType, String out, List<String> inputs, Object... attrs) {
        opMulti(opType, List.of(out), inputs, attrs);
        return out;
    }

    /** Adds a node with a fresh output name derived from the op type. */
    public String op(String opType, List<String> inputs, Object... attrs) {
        return op(opType, fresh(opType.toLowerCase()), inputs, attrs);
    }

    /** A node with several outputs; an empty name leaves an optional output out. */
    public void opMulti(String opType, List<String> outs, List<String> inputs, Object... attrs) {
        NodeProto.Builder n = NodeProto.newBuilder().setOpType(opType).setName(fresh("n_" + opType)).addAllInput(inputs).addAllOutput(outs);
        for (int i = 0; i < attrs.length; i += 2) n.addAttribute(attribute((String) attrs[i], attrs[i + 1]));
        graph.addNode(n);
    }

    private static AttributeProto attribute(String name, Object v) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name);
        if (v instanceof Integer i) a.setType(AttributeProto.AttributeType.INT).setI(i);
        else if (v instanceof Long l) a.setType(AttributeProto.AttributeType.INT).setI(l);
        else if (v instanceof Float f) a.setType(AttributeProto.AttributeType.FLOAT).setF(f);
        else if (v instanceof Double d) a.setType(AttributeProto.AttributeType.FLOAT).setF(d.floatValue());
        else if (v instanceof String s) a.setType(AttributeProto.AttributeType.STRING).setS(ByteString.copyFromUtf8(s));
        else if (v instanceof long[] ls) {
            a.setType(AttributeProto.AttributeType.INTS);
            for (long l : ls) a.addInts(l);
        } else throw new IllegalArgumentException("unsupported attribute value " + v);
        return a.build();
    }

    /** A constant 1-D int64 tensor (shapes, axes, indices), deduplicated. */
    public String ints(long... values) {
        StringBuilder key = new StringBuilder("i");
        for (long v : values) key.append(':').append(v);
        return constants.computeIfAbsent(key.toString(), k -> {
            ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
            for (long v : values) b.putLong(v);
            return initializer(fresh("const_i64"), TensorProto.DataType.INT64, new long[]{values.length}, b.array());
        });
    }

    /** A constant int64 scalar. */
    public String intScalar(long value) {
        return constants.computeIfAbsent("is:" + value, k -> {
            ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value);
            return initializer(fresh("const_i64s"), TensorProto.DataType.INT64, new long[0], b.array());
        });
    }

    /** A constant float scalar. */
    public String floatScalar(float value) {
        return constants.computeIfAbsent("fs:" + Float.floatToRawIntBits(value), k -> {
            ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(value);
            return initializer(fresh("const_f32"), TensorProto.DataType.FLOAT, new long[0], b.array());
        });
    }

    /** A float initializer holding {@code data} (used when weights are baked into the graph). */
    public String floatTensor(String name, float[] data, int[] shape) {
        ByteBuffer b = ByteBuffer.allocate(data.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(data);
        long[] dims = new long[shape.length];
        for (int i = 0; i < shape.length; i++) dims[i] = shape[i];
        return initializer(name, TensorProto.DataType.FLOAT, dims, b.array());
    }

    private String initializer(String name, TensorProto.DataType type, long[] dims, byte[] raw) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(type.getNumber()).setRawData(ByteString.copyFrom(raw));
        for (long d : dims) t.addDims(d);
        graph.addInitializer(t);
        return name;
    }

    public ModelProto build() {
        return ModelProto.newBuilder()
                .setIrVersion(IR_VERSION)
                .setProducerName("loupe")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(OPSET))
                .setGraph(graph)
                .build();
    }
}
