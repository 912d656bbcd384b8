package dev.loupe.data;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The part-of-speech tag inventory of a dataset: id 0 is {@link #NONE} (a token that belongs to no word: the
 * separator {@code <|endoftext|>} or pure whitespace), then the corpus's tags in sorted order. Brown's tags are
 * fine-grained (about 470 with their {@code -tl} title, {@code -hl} headline and {@code fw-} foreign marks), so each
 * tag also has a coarse class ({@code NOUN}, {@code VERB}, …) that neuron descriptions can speak in.
 */
public final class PosTags {
    public static final String NONE = "";

    private final List<String> tags;
    private final Map<String, Integer> ids = new HashMap<>();

    public PosTags(List<String> tags) {
        if (tags.isEmpty() || !tags.getFirst().equals(NONE)) throw new IllegalArgumentException("tag 0 must be the empty tag");
        this.tags = List.copyOf(tags);
        for (int i = 0; i < tags.size(); i++) ids.put(tags.get(i), i);
    }

    /** The inventory of the given tags: NONE first, the rest sorted. */
    public static PosTags of(Collection<String> corpusTags) {
        List<String> list = new ArrayList<>();
        list.add(NONE);
        TreeSet<String> sorted = new TreeSet<>(corpusTags);
        sorted.remove(NONE);
        list.addAll(sorted);
        return new PosTags(list);
    }

    public int id(String tag) {
        Integer id = ids.get(tag);
        if (id == null) throw new IllegalArgumentException("unknown tag '" + tag + "'");
        return id;
    }

    public String tag(int id) {
        return tags.get(id);
    }

    public int size() {
        return tags.size();
    }

    public List<String> tags() {
        return tags;
    }

    /**
     * A coarse class for a Brown tag, in the spirit of the universal tag set: NOUN, PROPN, VERB, ADJ, ADV, PRON, DET,
     * ADP, NUM, CONJ, PRT, INTJ, PUNCT, X (foreign or unclassified) and "" for {@link #NONE}.
     */
    public static String coarse(String tag) {
        if (tag.equals(NONE)) return "";
        if (tag.startsWith("fw-")) return "X";
        String base = tag;
        // marks that do not change the word class: title, headline, cited word
        for (boolean stripped = true; stripped; ) {
            stripped = false;
            for (String suffix : new String[]{"-tl", "-hl", "-nc"}) {
                if (base.endsWith(suffix) && base.length() > suffix.length()) {
                    base = base.substring(0, base.length() - suffix.length());
                    stripped = true;
                }
            }
        }
        int plus = base.indexOf('+'); // contractions "pps+bez": the class of the first part
        if (plus > 0) base = base.substring(0, plus);
        if (base.equals("*")) return "ADV"; // "not", "n't"
        if (base.length() > 1 && base.endsWith("*")) base = base.substring(0, base.length() - 1); // "didn't"
        if (!Character.isLetter(base.charAt(0))) return "PUNCT";
        if (base.startsWith("np")) return "PROPN";
        if (base.startsWith("nn") || base.startsWith("nr")) return "NOUN";
        if (base.startsWith("vb") || base.startsWith("be") || base.startsWith("do") || base.startsWith("hv")
                || base.startsWith("md")) return "VERB";
        if (base.startsWith("jj")) return "ADJ";
        if (base.equals("rp") || base.equals("to")) return "PRT";
        if (base.startsWith("rb") || base.startsWith("rn") || base.startsWith("ql") || base.equals("wrb") || base.equals("wql")) return "ADV";
        if (base.startsWith("pp") || base.startsWith("pn") || base.startsWith("wp")) return "PRON";
        if (base.startsWith("at") || base.startsWith("dt") || base.startsWith("ab") || base.startsWith("ap")
                || base.equals("wdt") || base.equals("ex")) return "DET";
        if (base.equals("in")) return "ADP";
        if (base.equals("cc") || base.equals("cs")) return "CONJ";
        if (base.startsWith("cd") || base.startsWith("od")) return "NUM";
        if (base.equals("uh")) return "INTJ";
        return "X";
    }
}
