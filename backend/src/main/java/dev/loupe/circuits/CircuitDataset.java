package dev.loupe.circuits;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.model.GptConfig;
import dev.loupe.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Pairs of clean and corrupted prompts of equal length with an answer and a wrong token. The metric of a pair is
 * {@code logit(answer) − logit(wrong)} at its last position, averaged over pairs (DESIGN §10).
 *
 * <p>JSON: {@code {"prompts": [{"clean", "corrupt", "answer", "wrong"}]}} with text, or with {@code clean_tokens},
 * {@code corrupt_tokens}, {@code answer_token}, {@code wrong_token} as ids. Text prompts get the tokenizer's BOS
 * prepended unless {@code bos} is false; token ids are taken as given.
 */
public record CircuitDataset(List<Pair> pairs) {
    public record Pair(int[] clean, int[] corrupt, int answer, int wrong) {
        public int length() { return clean.length; }
    }

    public CircuitDataset {
        pairs = List.copyOf(pairs);
        if (pairs.isEmpty()) throw new IllegalArgumentException("the dataset has no prompts");
    }

    public int size() { return pairs.size(); }
    public Pair pair(int i) { return pairs.get(i); }
    public int maxLength() { return pairs.stream().mapToInt(Pair::length).max().orElse(0); }

    /** Parses and validates a dataset; every message names the pair (numbered from 0) and the field. */
    public static CircuitDataset fromJson(JsonNode root, Tokenizer tok, GptConfig config, boolean bos) {
        JsonNode prompts = root == null ? null : root.get("prompts");
        if (prompts == null || !prompts.isArray()) throw new IllegalArgumentException("the dataset must be an object with an array \"prompts\"");
        List<Pair> pairs = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            JsonNode p = prompts.get(i);
            String where = "pair " + i;
            if (!p.isObject()) throw new IllegalArgumentException(where + ": expected an object");
            boolean ids = p.has("clean_tokens") || p.has("corrupt_tokens");
            int[] clean, corrupt;
            int answer, wrong;
            if (ids) {
                clean = idArray(p, "clean_tokens", where);
                corrupt = idArray(p, "corrupt_tokens", where);
                answer = idField(p, "answer_token", where);
                wrong = idField(p, "wrong_token", where);
            } else {
                clean = tok.encode(text(p, "clean", where), bos);
                corrupt = tok.encode(text(p, "corrupt", where), bos);
                answer = singleToken(tok, text(p, "answer", where), where, "answer");
                wrong = singleToken(tok, text(p, "wrong", where), where, "wrong");
            }
            if (clean.length == 0) throw new IllegalArgumentException(where + ": the clean prompt is empty");
            if (clean.length != corrupt.length)
                throw new IllegalArgumentException(where + ": clean and corrupted prompts must have the same number of tokens, got "
                        + clean.length + " and " + corrupt.length);
            if (clean.length > config.nCtx())
                throw new IllegalArgumentException(where + ": " + clean.length + " tokens exceed the model's context of " + config.nCtx());
            int vocab = Math.min(tok.vocabSize(), config.dVocab());
            for (int[] arr : new int[][]{clean, corrupt, {answer, wrong}})
                for (int t : arr)
                    if (t < 0 || t >= vocab) throw new IllegalArgumentException(where + ": token id " + t + " is outside the vocabulary [0, " + vocab + ")");
            if (answer == wrong) throw new IllegalArgumentException(where + ": the answer and the wrong token are the same");
            pairs.add(new Pair(clean, corrupt, answer, wrong));
        }
        return new CircuitDataset(pairs);
    }

    public static CircuitDataset parse(String json, Tokenizer tok, GptConfig config, boolean bos) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json);
        } catch (Exception e) {
            throw new IllegalArgumentException("the dataset is not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        return fromJson(root, tok, config, bos);
    }

    /** The token-id form of this dataset (what exports and caches store). */
    public ObjectNode toJson() {
        ObjectNode root = new ObjectMapper().createObjectNode();
        ArrayNode arr = root.putArray("prompts");
        for (Pair p : pairs) {
            ObjectNode o = arr.addObject();
            ArrayNode c = o.putArray("clean_tokens"), k = o.putArray("corrupt_tokens");
            for (int t : p.clean) c.add(t);
            for (int t : p.corrupt) k.add(t);
            o.put("answer_token", p.answer).put("wrong_token", p.wrong);
        }
        return root;
    }

    private static String text(JsonNode p, String field, String where) {
        JsonNode v = p.get(field);
        if (v == null || !v.isTextual()) throw new IllegalArgumentException(where + ": \"" + field + "\" must be a string");
        return v.asText();
    }

    private static int singleToken(Tokenizer tok, String text, String where, String field) {
        int[] ids = tok.encodeText(text);
        if (ids.length != 1)
            throw new IllegalArgumentException(where + ": the " + field + " \"" + text + "\" must be a single token, it is " + ids.length + " tokens " + Arrays.toString(ids));
        return ids[0];
    }

    private static int idField(JsonNode p, String field, String where) {
        JsonNode v = p.get(field);
        if (v == null || !v.canConvertToInt()) throw new IllegalArgumentException(where + ": \"" + field + "\" must be a token id");
        return v.asInt();
    }

    private static int[] idArray(JsonNode p, String field, String where) {
        JsonNode v = p.get(field);
        if (v == null || !v.isArray()) throw new IllegalArgumentException(where + ": \"" + field + "\" must be an array of token ids");
        int[] out = new int[v.size()];
        for (int i = 0; i < out.length; i++) {
            if (!v.get(i).canConvertToInt()) throw new IllegalArgumentException(where + ": \"" + field + "\"[" + i + "] is not a token id");
            out[i] = v.get(i).asInt();
        }
        return out;
    }
}
