package dev.loupe.neurons;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A neuron's page as JSON (what {@code GET /api/v1/models/{m}/neurons/{L}/{n}} and {@code neurons show} return),
 * built from the stored record. Token strings are resolved once per token id and kept, so a page costs one record
 * decode and a few hundred small JSON nodes. Each example carries the ids the model ran from the window's start
 * through the end of the shown context ({@code tokens}), the example's {@code position} in them, and the shown
 * context: {@code contextStart}, its token strings and activations.
 */
public final class NeuronPage {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final NeuronIndex index;
    private final Tokenizer tokenizer;
    private final String[] strings;

    public NeuronPage(NeuronIndex index, Tokenizer tokenizer) {
        this.index = index;
        this.tokenizer = tokenizer;
        this.strings = new String[tokenizer.vocabSize()];
    }

    public NeuronIndex index() { return index; }

    /** The display string of a token, resolved once. */
    public String token(int id) {
        if (id < 0 || id >= strings.length) return "<" + id + ">";
        String s = strings[id];
        if (s == null) strings[id] = s = tokenizer.display(id);
        return s;
    }

    /** The label as a sentence, e.g. {@code fires on " an" (88 % of top examples); predicts " apple", " hour"}. */
    public String label(NeuronIndex.Neuron n) {
        LabelRule r = n.rule();
        StringBuilder sb = new StringBuilder();
        if (r.tokens().length > 0) {
            List<String> quoted = new ArrayList<>();
            for (int t : r.tokens()) quoted.add(quote(token(t)));
            sb.append("fires on ").append(String.join(", ", quoted));
        } else if (r.tagClass() >= 0) {
            sb.append("fires on ").append(index.meta().classes().get(r.tagClass())).append(" words");
        } else {
            sb.append("no dominant token or word class");
        }
        if (!r.isEmpty()) sb.append(String.format(Locale.ROOT, " (%.0f %% of top examples)", 100 * r.share()));
        sb.append("; predicts ").append(quote(token(n.topIds()[0]))).append(", ").append(quote(token(n.topIds()[1])));
        return sb.toString();
    }

    /** A token as a quoted string with newlines and tabs escaped. */
    public static String quote(String s) {
        return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n").replace("\t", "\\t") + '"';
    }

    public ObjectNode json(int layer, int n) {
        NeuronIndex.Neuron x = index.neuron(layer, n);
        NeuronIndex.Meta meta = index.meta();
        ObjectNode o = JSON.createObjectNode();
        o.put("model", meta.model());
        o.put("layer", layer);
        o.put("index", n);
        o.put("id", meta.model() + "/" + layer + "/" + n);
        o.put("hook", "blocks." + layer + ".mlp.hook_post");
        ObjectNode label = o.putObject("label");
        label.put("text", label(x));
        num(label, "score", x.score());
        label.put("scoreMeaning", "Pearson correlation between the rule (token in the set / word in the class) and the activation on "
                + meta.scoringTokens() + " held-out tokens");
        ArrayNode ruleTokens = label.putArray("tokens");
        for (int t : x.rule().tokens()) ruleTokens.addObject().put("id", t).put("token", token(t));
        if (x.rule().tagClass() >= 0) label.put("class", meta.classes().get(x.rule().tagClass()));
        num(label, "share", x.rule().share());
        num(o, "max", x.max());
        num(o, "min", x.min());
        num(o, "mean", x.mean());
        num(o, "variance", x.variance());
        num(o, "skew", x.skew());
        num(o, "kurtosis", x.kurtosis());
        num(o, "density", x.density());
        ArrayNode ex = o.putArray("examples");
        for (NeuronIndex.Example e : x.top()) example(ex.addObject(), e);
        ArrayNode bands = o.putArray("bands");
        for (NeuronIndex.Band b : x.bands()) {
            ObjectNode bo = bands.addObject();
            num(bo, "lo", b.lo());
            num(bo, "hi", b.hi());
            bo.put("count", b.count());
            ArrayNode be = bo.putArray("examples");
            for (NeuronIndex.Example e : b.examples()) example(be.addObject(), e);
        }
        histogram(o.putObject("histogram"), x.min(), x.max(), x.histogram());
        ArrayNode tm = o.putArray("tokenMeans");
        for (NeuronIndex.Mean m : x.tokens()) {
            ObjectNode t = tm.addObject().put("id", m.id()).put("token", token(m.id()));
            num(t, "mean", m.mean());
            t.put("count", m.count());
        }
        if (!meta.classes().isEmpty()) {
            ObjectNode pos = o.putObject("pos");
            ArrayNode cls = pos.putArray("classes");
            for (int c = 1; c < meta.classes().size(); c++) {
                if (Float.isNaN(x.classMeans()[c])) continue;
                num(cls.addObject().put("class", meta.classes().get(c)), "mean", x.classMeans()[c]);
            }
            ArrayNode tags = pos.putArray("tags");
            for (NeuronIndex.Mean m : x.tags()) {
                ObjectNode t = tags.addObject().put("tag", meta.tags().get(m.id()));
                num(t, "mean", m.mean());
                t.put("count", m.count());
            }
        } else {
            o.putNull("pos");
        }
        ObjectNode logits = o.putObject("logits");
        ArrayNode up = logits.putArray("top"), down = logits.putArray("bottom");
        for (int i = 0; i < x.topIds().length; i++) num(up.addObject().put("id", x.topIds()[i]).put("token", token(x.topIds()[i])), "value", x.topValues()[i]);
        for (int i = 0; i < x.bottomIds().length; i++) num(down.addObject().put("id", x.bottomIds()[i]).put("token", token(x.bottomIds()[i])), "value", x.bottomValues()[i]);
        histogram(logits.putObject("histogram"), x.effectMin(), x.effectMax(), x.effectHistogram());
        num(logits, "vocabKurtosis", x.vocabKurtosis());
        num(logits, "vocabSkew", x.vocabSkew());
        logits.put("class", x.neuronClass());
        ObjectNode w = o.putObject("weights");
        num(w, "wIn", x.wIn());
        num(w, "wOut", x.wOut());
        num(w, "cos", x.cos());
        ObjectNode cong = o.putObject("congruence");
        cong.put("topToken", x.topIds()[0]).put("token", token(x.topIds()[0]));
        cong.put("topTokenNeuron", x.topTokenNeuron());
        cong.put("mutual", x.mutuallyCongruent());
        ObjectNode src = o.putObject("source");
        src.put("corpus", meta.corpus());
        src.put("tokens", meta.tokens());
        src.put("documents", meta.documents());
        src.put("scoringTokens", meta.scoringTokens());
        src.put("bos", meta.bos());
        src.put("weightsSha256", meta.weightsSha256());
        ObjectNode nav = o.putObject("nav");
        int g = layer * meta.dMlp() + n, total = meta.neurons();
        int prev = (g - 1 + total) % total, next = (g + 1) % total;
        nav.put("prev", prev / meta.dMlp() + "/" + prev % meta.dMlp());
        nav.put("next", next / meta.dMlp() + "/" + next % meta.dMlp());
        nav.put("layers", meta.layers());
        nav.put("dMlp", meta.dMlp());
        return o;
    }

    private void example(ObjectNode o, NeuronIndex.Example e) {
        int len = index.windowLength(e.window());
        int start = Math.max(0, e.contextStart());
        int end = Math.min(len, e.position() + Accumulators.CTX_AFTER + 1);
        o.put("window", e.window());
        o.put("document", index.windowDocument(e.window()));
        o.put("position", e.position());
        num(o, "activation", e.activation());
        ArrayNode ids = o.putArray("tokens");
        for (int p = 0; p < end; p++) ids.add(index.windowToken(e.window(), p));
        o.put("contextStart", start);
        ArrayNode text = o.putArray("text"), acts = o.putArray("acts");
        for (int p = start; p < end; p++) {
            text.add(token(index.windowToken(e.window(), p)));
            float a = p == e.position() ? e.activation() : e.context()[p - e.contextStart()]; // the example's own value exactly
            acts.add(Float.isNaN(a) ? 0f : a);
        }
    }

    private static void histogram(ObjectNode o, float lo, float hi, int[] counts) {
        num(o, "min", lo);
        num(o, "max", hi);
        ArrayNode c = o.putArray("counts");
        for (int v : counts) c.add(v);
    }

    static void num(ObjectNode o, String key, double v) {
        if (Double.isNaN(v) || Double.isInfinite(v)) o.putNull(key);
        else o.put(key, (float) v); // float precision: what is stored, and shorter JSON
    }
}
