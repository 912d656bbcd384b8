package dev.loupe.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the raw little-endian data. Floats of any stored width are read
 * as {@code float}; integer tensors (token ids) as {@code long}.
 */
public final class Safetensors implements AutoCloseable {

    public enum DType {
        F32(4), F16(2), BF16(2), F64(8), I64(8), I32(4), I16(2), I8(1), U8(1), BOOL(1);
        public final int bytes;
        DType(int bytes) { this.bytes = bytes; }
        boolean isFloat() { return this == F32 || this == F16 || this == BF16 || this == F64; }
        boolean isInteger() { return this == I64 || this == I32 || this == I16 || this == I8 || this == U8; }
    }

    /** One tensor's header entry; {@code offset} is absolute in the file. */
    public record Entry(String name, DType dtype, int[] shape, long offset, long length) {
        public long numel() { return Tensor.numel(shape); }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAX_HEADER = 100L << 20;

    private final Path file;
    private final FileChannel channel;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;

    private Safetensors(Path file, FileChannel channel, Map<String, Entry> entries, Map<String, String> metadata) {
        this.file = file;
        this.channel = channel;
        this.entries = entries;
        this.metadata = metadata;
    }

    /** Opens a file and validates its header against the file size; data is read on demand. */
    public static Safetensors open(Path file) throws SafetensorsException {
        FileChannel ch;
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new SafetensorsException(file, "cannot open: " + e.getMessage());
        }
        try {
            return parse(file, ch);
        } catch (SafetensorsException | RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    private static Safetensors parse(Path file, FileChannel ch) throws SafetensorsException {
        try {
            long size = ch.size();
            if (size < 8) throw new SafetensorsException(file, "truncated: " + size + " bytes, no header");
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long headerLen = lenBuf.flip().getLong();
            if (headerLen <= 0 || headerLen > MAX_HEADER)
                throw new SafetensorsException(file, "corrupt: header length " + headerLen + " is not plausible");
            if (8 + headerLen > size)
                throw new SafetensorsException(file, "truncated: header needs " + headerLen + " bytes, file has " + (size - 8));
            ByteBuffer headerBuf = ByteBuffer.allocate((int) headerLen);
            readFully(ch, headerBuf, 8);
            JsonNode header;
            try {
                header = JSON.readTree(new String(headerBuf.array(), StandardCharsets.UTF_8).trim());
            } catch (IOException e) {
                throw new SafetensorsException(file, "corrupt: header is not valid JSON");
            }
            if (header == null || !header.isObject()) throw new SafetensorsException(file, "corrupt: header is not a JSON object");
            long dataStart = 8 + headerLen;
            Map<String, Entry> entries = new LinkedHashMap<>();
            Map<String, String> metadata = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                if (f.getKey().equals("__metadata__")) {
                    f.getValue().fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                    continue;
                }
                Entry e = entry(file, f.getKey(), f.getValue(), dataStart);
                if (e.offset + e.length > size)
                    throw new SafetensorsException(file, "truncated: tensor '" + e.name + "' ends at byte " + (e.offset + e.length)
                            + " but the file has " + size);
                entries.put(e.name, e);
            }
            return new Safetensors(file, ch, Collections.unmodifiableMap(entries), Collections.unmodifiableMap(metadata));
        } catch (IOException e) {
            throw new SafetensorsException(file, "cannot read: " + e.getMessage());
        }
    }

    private static Entry entry(Path file, String name, JsonNode node, long dataStart) throws SafetensorsException {
        DType dtype;
        try {
            dtype = DType.valueOf(node.path("dtype").asText());
        } catch (IllegalArgumentException e) {
            throw new SafetensorsException(file, "tensor '" + name + "' has unsupported dtype '" + node.path("dtype").asText() + "'");
        }
        JsonNode shapeNode = node.path("shape"), offsets = node.path("data_offsets");
        if (!shapeNode.isArray() || !offsets.isArray() || offsets.size() != 2)
            throw new SafetensorsException(file, "corrupt: tensor '" + name + "' lacks shape or data_offsets");
        int[] shape = new int[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            long d = shapeNode.get(i).asLong(-1);
            if (d < 0 || d > Integer.MAX_VALUE) throw new SafetensorsException(file, "corrupt: tensor '" + name + "' has dimension " + shapeNode.get(i));
            shape[i] = (int) d;
        }
        long begin = offsets.get(0).asLong(-1), end = offsets.get(1).asLong(-1);
        long expected = Tensor.numel(shape) * dtype.bytes;
        if (begin < 0 || end < begin)
            throw new SafetensorsException(file, "corrupt: tensor '" + name + "' has data_offsets " + offsets);
        if (end - begin != expected)
            throw new SafetensorsException(file, "corrupt: tensor '" + name + "' of shape " + Arrays.toString(shape) + " " + dtype
                    + " needs " + expected + " bytes, its data_offsets span " + (end - begin));
        return new Entry(name, dtype, shape, dataStart + begin, end - begin);
    }

    public Path file() { return file; }
    public Set<String> names() { return entries.keySet(); }
    public boolean contains(String name) { return entries.containsKey(name); }
    public Map<String, String> metadata() { return metadata; }

    public Entry entry(String name) throws SafetensorsException {
        Entry e = entries.get(name);
        if (e == null) throw new SafetensorsException(file, "no tensor named '" + name + "'");
        return e;
    }

    /** Reads a floating-point tensor (F32, F16, BF16 or F64) as float. */
    public Tensor read(String name) throws SafetensorsException {
        Entry e = entry(name);
        if (!e.dtype.isFloat())
            throw new SafetensorsException(file, "tensor '" + name + "' is " + e.dtype + ", not a floating-point tensor");
        if (e.numel() > Integer.MAX_VALUE) throw new SafetensorsException(file, "tensor '" + name + "' is too large");
        ByteBuffer raw = bytes(e);
        float[] out = new float[(int) e.numel()];
        switch (e.dtype) {
            case F32 -> raw.asFloatBuffer().get(out);
            case F64 -> { var b = raw.asDoubleBuffer(); for (int i = 0; i < out.length; i++) out[i] = (float) b.get(i); }
            case F16 -> { var b = raw.asShortBuffer(); for (int i = 0; i < out.length; i++) out[i] = Float.float16ToFloat(b.get(i)); }
            case BF16 -> { var b = raw.asShortBuffer(); for (int i = 0; i < out.length; i++) out[i] = Float.intBitsToFloat(b.get(i) << 16); }
            default -> throw new IllegalStateException();
        }
        return new Tensor(out, e.shape);
    }

    /** Reads an integer tensor (e.g. token ids) as long, row-major. */
    public long[] readLongs(String name) throws SafetensorsException {
        Entry e = entry(name);
        if (!e.dtype.isInteger()) throw new SafetensorsException(file, "tensor '" + name + "' is " + e.dtype + ", not an integer tensor");
        ByteBuffer raw = bytes(e);
        long[] out = new long[(int) e.numel()];
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (e.dtype) {
                case I64 -> raw.getLong(i * 8);
                case I32 -> raw.getInt(i * 4);
                case I16 -> raw.getShort(i * 2);
                case I8 -> raw.get(i);
                case U8 -> raw.get(i) & 0xff;
                default -> throw new IllegalStateException();
            };
        }
        return out;
    }

    private ByteBuffer bytes(Entry e) throws SafetensorsException {
        try {
            if (e.length > Integer.MAX_VALUE) throw new SafetensorsException(file, "tensor '" + e.name + "' is too large");
            ByteBuffer buf = e.length > (1 << 20)
                    ? channel.map(FileChannel.MapMode.READ_ONLY, e.offset, e.length)
                    : ByteBuffer.allocate((int) e.length);
            if (!buf.isDirect()) readFully(channel, buf, e.offset);
            return buf.rewind().order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException ex) {
            throw new SafetensorsException(file, "cannot read tensor '" + e.name + "': " + ex.getMessage());
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) throw new IOException("unexpected end of file");
            pos += n;
        }
    }

    @Override public void close() { closeQuietly(channel); }

    private static void closeQuietly(FileChannel ch) {
        try { ch.close(); } catch (IOException ignored) { /* nothing to do */ }
    }

    // ---------------------------------------------------------------- writing

    /** Writes float tensors as F32. */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        write(file, tensors, metadata, DType.F32);
    }

    /**
     * Writes float tensors in F32, F16 or BF16 (round to nearest even), in map order. The file appears
     * atomically: it is written beside the target and moved into place, so a failure leaves nothing behind.
     */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata, DType dtype) throws IOException {
        if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16)
            throw new IllegalArgumentException("can write F32, F16 or BF16, not " + dtype);
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> t : tensors.entrySet()) {
            if (t.getKey().equals("__metadata__")) throw new IllegalArgumentException("'__metadata__' is not a tensor name");
            ObjectNode e = header.putObject(t.getKey());
            e.put("dtype", dtype.name());
            var shape = e.putArray("shape");
            for (int d : t.getValue().shape()) shape.add(d);
            long len = (long) t.getValue().size() * dtype.bytes;
            e.putArray("data_offsets").add(offset).add(offset + len);
            offset += len;
        }
        byte[] headerBytes = JSON.writeValueAsBytes(header);
        int padded = (headerBytes.length + 7) / 8 * 8; // data starts 8-byte aligned
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(headerBytes);
        while (head.hasRemaining()) head.put((byte) ' ');

        Path dir = file.toAbsolutePath().getParent();
        if (dir != null) Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, ".safetensors-", ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            writeFully(ch, head.flip());
            ByteBuffer chunk = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            for (Tensor t : tensors.values()) {
                float[] d = t.data();
                for (int i = 0; i < d.length; ) {
                    int n = Math.min(d.length - i, chunk.capacity() / dtype.bytes);
                    chunk.clear();
                    switch (dtype) {
                        case F32 -> chunk.asFloatBuffer().put(d, i, n);
                        case F16 -> { for (int k = 0; k < n; k++) chunk.putShort(k * 2, Float.floatToFloat16(d[i + k])); }
                        default -> { for (int k = 0; k < n; k++) chunk.putShort(k * 2, toBf16(d[i + k])); }
                    }
                    chunk.limit(n * dtype.bytes);
                    writeFully(ch, chunk);
                    i += n;
                }
            }
            ch.force(false);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        readableByAll(tmp, "rw-r--r--");
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Temporary files are private; what replaces them should have ordinary permissions. */
    static void readableByAll(Path p, String perms) {
        try {
            Files.setPosixFilePermissions(p, java.nio.file.attribute.PosixFilePermissions.fromString(perms));
        } catch (UnsupportedOperationException | IOException ignored) { /* not a POSIX file system */ }
    }

    static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) ((bits >>> 16) | 0x40);
        bits += 0x7fff + ((bits >>> 16) & 1);
        return (short) (bits >>> 16);
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) ch.write(buf);
    }
}
