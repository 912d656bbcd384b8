package dev.loupe.circuits;

import dev.loupe.model.GptConfig;
import dev.loupe.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * Built-in circuit tasks: datasets a model can do, generated from a seed.
 * <ul>
 *   <li>{@code induction}: {@code <bos> r r'} where r' is r without its last token, answer r's last token; the
 *       corrupted prompt changes the first copy, so copying has nothing to copy; the wrong token is a token in
 *       neither prompt. For models with their own vocabulary (induction-2l).</li>
 *   <li>{@code agreement}: "The old boys" → " were", wrong " was"; corrupted with the singular subject
 *       ("The old boy"). For the GPT-2 tokenizer.</li>
 *   <li>{@code quotes}: {@code Mary smiled. "Go home} → the closing {@code ."} rather than {@code .}; corrupted
 *       without the opening quote ({@code Mary smiled. So go home}).</li>
 * </ul>
 */
public final class CircuitTasks {
    public static final List<String> NAMES = List.of("induction", "agreement", "quotes");

    private CircuitTasks() {}

    public static CircuitDataset generate(String task, Tokenizer tok, GptConfig config, int pairs, long seed) {
        if (pairs < 1 || pairs > 256) throw new IllegalArgumentException("pairs must be between 1 and 256, got " + pairs);
        return switch (task) {
            case "induction" -> induction(tok, config, pairs, 10, seed);
            case "agreement" -> text(tok, config, agreement(pairs, seed));
            case "quotes" -> text(tok, config, quotes(pairs, seed));
            default -> throw new IllegalArgumentException("unknown task '" + task + "': use one of " + NAMES);
        };
    }

    public static CircuitDataset induction(Tokenizer tok, GptConfig config, int pairs, int len, long seed) {
        int vocab = Math.min(tok.vocabSize(), config.dVocab()), bos = Math.max(0, tok.bosId());
        if (2 * len > config.nCtx()) throw new IllegalArgumentException("induction prompts of " + (2 * len) + " tokens exceed the context");
        Random rnd = new Random(seed);
        List<CircuitDataset.Pair> out = new ArrayList<>();
        for (int p = 0; p < pairs; p++) {
            int[] r = distinct(rnd, vocab, bos, len, Set.of()), r2 = distinct(rnd, vocab, bos, len, asSet(r));
            Set<Integer> used = asSet(r);
            used.addAll(asSet(r2));
            int wrong = distinct(rnd, vocab, bos, 1, used)[0];
            int[] clean = new int[2 * len], corrupt = new int[2 * len];
            clean[0] = corrupt[0] = bos;
            for (int i = 0; i < len; i++) {
                clean[1 + i] = r[i];
                corrupt[1 + i] = r2[i];
            }
            for (int i = 0; i < len - 1; i++) clean[1 + len + i] = corrupt[1 + len + i] = r[i];
            out.add(new CircuitDataset.Pair(clean, corrupt, r[len - 1], wrong));
        }
        return new CircuitDataset(out);
    }

    private static int[] distinct(Random rnd, int vocab, int bos, int n, Set<Integer> avoid) {
        Set<Integer> seen = new HashSet<>(avoid);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            int t;
            do t = rnd.nextInt(vocab); while (t == bos || seen.contains(t));
            seen.add(t);
            out[i] = t;
        }
        return out;
    }

    private static Set<Integer> asSet(int[] a) {
        Set<Integer> s = new HashSet<>();
        for (int v : a) s.add(v);
        return s;
    }

    record TextPair(String clean, String corrupt, String answer, String wrong) {}

    static final String[] PLURAL = {"boys", "girls", "men", "women", "dogs", "farmers", "soldiers", "students", "workers", "children"};
    static final String[] SINGULAR = {"boy", "girl", "man", "woman", "dog", "farmer", "soldier", "student", "worker", "child"};
    static final String[] ADJ = {"old", "young", "tall", "poor", "little", "good", "small", "other"};

    static List<TextPair> agreement(int pairs, long seed) {
        Random rnd = new Random(seed);
        List<TextPair> out = new ArrayList<>();
        for (int p = 0; p < pairs; p++) {
            int n = rnd.nextInt(PLURAL.length);
            String adj = ADJ[rnd.nextInt(ADJ.length)];
            out.add(new TextPair("The " + adj + " " + PLURAL[n], "The " + adj + " " + SINGULAR[n], " were", " was"));
        }
        return out;
    }

    static final String[] BEFORE = {"He looked at her.", "She turned around.", "The man stood up.", "Mary smiled.",
            "John shook his head.", "Her father laughed.", "The old man sat down.", "The woman nodded."};
    static final String[][] SAID = {{"Go home", "So go home"}, {"Come here", "So come here"}, {"I know", "And I know"},
            {"You are right", "And you are right"}, {"It is late", "But it is late"}, {"We must go", "So we must go"}};

    static List<TextPair> quotes(int pairs, long seed) {
        Random rnd = new Random(seed);
        List<TextPair> out = new ArrayList<>();
        for (int p = 0; p < pairs; p++) {
            String before = BEFORE[rnd.nextInt(BEFORE.length)];
            String[] said = SAID[rnd.nextInt(SAID.length)];
            out.add(new TextPair(before + " \"" + said[0], before + " " + said[1], ".\"", "."));
        }
        return out;
    }

    private static CircuitDataset text(Tokenizer tok, GptConfig config, List<TextPair> pairs) {
        com.fasterxml.jackson.databind.node.ObjectNode root = new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode();
        var arr = root.putArray("prompts");
        for (TextPair t : pairs) arr.addObject().put("clean", t.clean).put("corrupt", t.corrupt).put("answer", t.answer).put("wrong", t.wrong);
        return CircuitDataset.fromJson(root, tok, config, true);
    }
}
