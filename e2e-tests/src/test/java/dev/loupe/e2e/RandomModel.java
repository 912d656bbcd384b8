package dev.loupe.e2e;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * Writes a random-initialised GPT-2-vocabulary model folder (manifest, F32 safetensors, card) for the browser
 * tests. Matrices are N(0, 1/√d_model) so attention patterns are far from uniform.
 */
public final class RandomModel {
    public static final int VOCAB = 50257;

    private RandomModel() {}

    public static void write(Path dir, String name, int layers, int heads, int d, int ctx, long seed) throws IOException {
        Files.createDirectories(dir);
        int mlp = 4 * d;
        Map<String, int[]> shapes = new LinkedHashMap<>();
        shapes.put("wte.weight", new int[]{VOCAB, d});
        shapes.put("wpe.weight", new int[]{ctx, d});
        for (int l = 0; l < layers; l++) {
            String p = "h." + l + ".";
            shapes.put(p + "ln_1.weight", new int[]{d});
            shapes.put(p + "ln_1.bias", new int[]{d});
            shapes.put(p + "attn.c_attn.weight", new int[]{d, 3 * d});
            shapes.put(p + "attn.c_attn.bias", new int[]{3 * d});
            shapes.put(p + "attn.c_proj.weight", new int[]{d, d});
            shapes.put(p + "attn.c_proj.bias", new int[]{d});
            shapes.put(p + "ln_2.weight", new int[]{d});
            shapes.put(p + "ln_2.bias", new int[]{d});
            shapes.put(p + "mlp.c_fc.weight", new int[]{d, mlp});
            shapes.put(p + "mlp.c_fc.bias", new int[]{mlp});
            shapes.put(p + "mlp.c_proj.weight", new int[]{mlp, d});
            shapes.put(p + "mlp.c_proj.bias", new int[]{d});
        }
        shapes.put("ln_f.weight", new int[]{d});
        shapes.put("ln_f.bias", new int[]{d});

        StringBuilder header = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        long offset = 0;
        for (var e : shapes.entrySet()) {
            long n = 1;
            for (int s : e.getValue()) n *= s;
            header.append(",\"").append(e.getKey()).append("\":{\"dtype\":\"F32\",\"shape\":[");
            for (int i = 0; i < e.getValue().length; i++) header.append(i == 0 ? "" : ",").append(e.getValue()[i]);
            header.append("],\"data_offsets\":[").append(offset).append(',').append(offset + 4 * n).append("]}");
            offset += 4 * n;
        }
        header.append('}');
        while ((header.length() + 8) % 8 != 0) header.append(' ');
        byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);

        Random rnd = new Random(seed);
        try (FileChannel ch = FileChannel.open(dir.resolve("model.safetensors"), StandardOpenOption.CREATE,
                StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length);
            ch.write(len.flip());
            ch.write(ByteBuffer.wrap(h));
            for (var e : shapes.entrySet()) {
                String n = e.getKey();
                int count = 1;
                for (int s : e.getValue()) count *= s;
                ByteBuffer b = ByteBuffer.allocate(4 * count).order(ByteOrder.LITTLE_ENDIAN);
                double std = n.endsWith("c_proj.weight") ? 1 / Math.sqrt(d) / Math.sqrt(2.0 * layers) : 1 / Math.sqrt(d);
                for (int i = 0; i < count; i++) {
                    float v;
                    if (n.contains("ln_") && n.endsWith("weight")) v = (float) (1 + 0.1 * rnd.nextGaussian());
                    else if (n.endsWith("bias")) v = (float) (0.02 * rnd.nextGaussian());
                    else v = (float) (std * rnd.nextGaussian());
                    b.putFloat(v);
                }
                ch.write(b.flip());
            }
        }
        Files.writeString(dir.resolve("manifest.json"), """
                {
                  "name": "%s",
                  "description": "A random GPT-2-vocabulary model for the browser tests.",
                  "config": {"n_layer": %d, "n_head": %d, "n_embd": %d, "n_inner": %d, "n_positions": %d,
                             "vocab_size": %d, "attn_only": false, "layer_norm_epsilon": 1e-05},
                  "tokenizer": {"type": "gpt2"},
                  "weights": "model.safetensors",
                  "card": "CARD.md",
                  "placeholder": false,
                  "provenance": {"source": "random initialisation N(0, 1/sqrt(d_model)), seed %d"}
                }
                """.formatted(name, layers, heads, d, mlp, ctx, VOCAB, seed));
        Files.writeString(dir.resolve("CARD.md"), "# " + name + "\n\nRandom weights (seed " + seed + ") for testing the explorer.\n");
    }

    /** Writes a model folder: {@code RandomModel DIR NAME LAYERS HEADS D_MODEL CONTEXT [SEED]}. */
    public static void main(String[] a) throws IOException {
        write(Path.of(a[0]), a[1], Integer.parseInt(a[2]), Integer.parseInt(a[3]), Integer.parseInt(a[4]), Integer.parseInt(a[5]),
                a.length > 6 ? Long.parseLong(a[6]) : 0);
    }
}
