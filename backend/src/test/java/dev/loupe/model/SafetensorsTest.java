package dev.loupe.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class SafetensorsTest {
    @TempDir Path dir;

    static Tensor sample() {
        float[] d = {0f, 1f, -2.5f, 3.14159f, 1e-3f, -65504f, 1e20f, Float.NEGATIVE_INFINITY};
        return new Tensor(d, 2, 4);
    }

    @Test
    void roundTripF32KeepsEveryBitAndTheMetadata() throws IOException {
        Path f = dir.resolve("a.safetensors");
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("x", sample());
        m.put("scalar", Tensor.scalar(7f));
        Safetensors.write(f, m, Map.of("config", "{\"n_layer\":1}"));
        try (Safetensors st = Safetensors.open(f)) {
            assertEquals(Map.of("config", "{\"n_layer\":1}"), st.metadata());
            assertEquals(java.util.List.of("x", "scalar"), java.util.List.copyOf(st.names()));
            Tensor x = st.read("x");
            assertArrayEquals(new int[]{2, 4}, x.shape());
            assertArrayEquals(sample().data(), x.data());
            assertEquals(7f, st.read("scalar").get());
            assertEquals(0, (Files.size(f) - 8 - ByteBuffer.wrap(Files.readAllBytes(f), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong()) % 4);
        }
        assertEquals(1, Files.list(dir).count(), "no temporary file left behind");
    }

    @Test
    void roundTripF16AndBf16RoundToNearest() throws IOException {
        for (Safetensors.DType t : new Safetensors.DType[]{Safetensors.DType.F16, Safetensors.DType.BF16}) {
            Path f = dir.resolve(t + ".safetensors");
            Safetensors.write(f, Map.of("x", sample()), Map.of(), t);
            try (Safetensors st = Safetensors.open(f)) {
                assertEquals(t, st.entry("x").dtype());
                float[] back = st.read("x").data(), orig = sample().data();
                for (int i = 0; i < orig.length; i++) {
                    float expected = t == Safetensors.DType.F16 ? Float.float16ToFloat(Float.floatToFloat16(orig[i]))
                            : Float.intBitsToFloat(Safetensors.toBf16(orig[i]) << 16);
                    assertEquals(expected, back[i], t + " element " + i);
                    if (Float.isFinite(orig[i]) && Math.abs(orig[i]) < 60000)
                        assertEquals(orig[i], back[i], Math.abs(orig[i]) * (t == Safetensors.DType.F16 ? 1e-3 : 8e-3) + 1e-7);
                }
            }
        }
        // BF16 rounds to nearest even: 1 + 2^-8 lies halfway between 1 and 1 + 2^-7
        assertEquals(1f, Float.intBitsToFloat(Safetensors.toBf16(1f + 0x1p-8f) << 16));
        assertEquals(1f + 0x1p-7f, Float.intBitsToFloat(Safetensors.toBf16(1f + 0x1p-8f + 0x1p-12f) << 16));
    }

    @Test
    void readsIntegerTokenIds() throws IOException {
        Path f = dir.resolve("ids.safetensors");
        ByteBuffer data = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putLong(50256).putLong(15496).putLong(-1);
        writeRaw(f, "{\"ids\":{\"dtype\":\"I64\",\"shape\":[1,3],\"data_offsets\":[0,24]}}", data.array());
        try (Safetensors st = Safetensors.open(f)) {
            assertArrayEquals(new long[]{50256, 15496, -1}, st.readLongs("ids"));
            var e = assertThrows(SafetensorsException.class, () -> st.read("ids"));
            assertTrue(e.getMessage().contains("not a floating-point tensor"), e.getMessage());
        }
    }

    @Test
    void truncatedFilesAreReportedClearly() throws IOException {
        Path f = dir.resolve("t.safetensors");
        Safetensors.write(f, Map.of("x", sample()), Map.of());
        byte[] all = Files.readAllBytes(f);
        Files.write(f, Arrays.copyOf(all, all.length - 4));
        var e = assertThrows(SafetensorsException.class, () -> Safetensors.open(f));
        assertTrue(e.getMessage().contains("truncated") && e.getMessage().contains("'x'"), e.getMessage());

        Files.write(f, Arrays.copyOf(all, 20));
        e = assertThrows(SafetensorsException.class, () -> Safetensors.open(f));
        assertTrue(e.getMessage().contains("truncated: header"), e.getMessage());

        Files.write(f, new byte[3]);
        e = assertThrows(SafetensorsException.class, () -> Safetensors.open(f));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void corruptHeadersAreReportedClearly() throws IOException {
        Path f = dir.resolve("c.safetensors");
        writeRaw(f, "{not json", new byte[0]);
        assertTrue(assertThrows(SafetensorsException.class, () -> Safetensors.open(f)).getMessage().contains("not valid JSON"));
        writeRaw(f, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", new byte[12]);
        var e = assertThrows(SafetensorsException.class, () -> Safetensors.open(f));
        assertTrue(e.getMessage().contains("needs 16 bytes"), e.getMessage());
        writeRaw(f, "{\"x\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,1]}}", new byte[1]);
        assertTrue(assertThrows(SafetensorsException.class, () -> Safetensors.open(f)).getMessage().contains("unsupported dtype 'Q4'"));
        ByteBuffer bad = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-5).putLong(0);
        Files.write(f, bad.array());
        assertTrue(assertThrows(SafetensorsException.class, () -> Safetensors.open(f)).getMessage().contains("header length"));
    }

    static void writeRaw(Path f, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Files.write(f, b.array());
    }
}
