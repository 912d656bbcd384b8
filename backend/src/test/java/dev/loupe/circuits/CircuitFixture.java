package dev.loupe.circuits;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.model.GptConfig;
import dev.loupe.model.GptWeights;
import dev.loupe.model.Safetensors;
import dev.loupe.model.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A golden fixture of tools/reference/circuits_reference.py: a random model, a dataset and the reference results. */
record CircuitFixture(String name, GptWeights weights, CircuitDataset dataset, List<String> edgeNames, int igSteps,
                      float[] eap, float[] eapIg, List<BitSet> sets, float[] setMetric, float[] setKl) {

    static final List<String> NAMES = List.of("circuits_mlp_2l", "circuits_attnonly_2l");

    static CircuitFixture load(String name) {
        try (Safetensors st = Safetensors.open(Path.of(CircuitFixture.class.getResource("/fixtures/" + name + ".safetensors").toURI()))) {
            ObjectMapper json = new ObjectMapper();
            GptConfig config = GptConfig.fromJson(json.readTree(st.metadata().get("config")));
            Map<String, Tensor> named = new LinkedHashMap<>();
            for (String t : st.names()) if (!t.startsWith("c.")) named.put(t, st.read(t));
            long[] clean = st.readLongs("c.clean"), corrupt = st.readLongs("c.corrupt"), lengths = st.readLongs("c.lengths");
            long[] answer = st.readLongs("c.answer"), wrong = st.readLongs("c.wrong");
            int pairs = lengths.length, width = clean.length / pairs;
            List<CircuitDataset.Pair> list = new ArrayList<>();
            for (int p = 0; p < pairs; p++) {
                int n = (int) lengths[p];
                list.add(new CircuitDataset.Pair(ints(clean, p * width, n), ints(corrupt, p * width, n), (int) answer[p], (int) wrong[p]));
            }
            List<String> edges = new ArrayList<>();
            json.readTree(st.metadata().get("edges")).forEach(n -> edges.add(n.asText()));
            Tensor setTensor = st.read("c.sets");
            List<BitSet> sets = new ArrayList<>();
            for (int s = 0; s < setTensor.dim(0); s++) {
                BitSet b = new BitSet();
                for (int e = 0; e < setTensor.dim(1); e++) if (setTensor.get(s, e) > 0.5f) b.set(e);
                sets.add(b);
            }
            return new CircuitFixture(name, GptWeights.of(config, named), new CircuitDataset(list), edges,
                    Integer.parseInt(st.metadata().get("ig_steps")), st.read("c.eap").data(), st.read("c.eap_ig").data(),
                    sets, st.read("c.set_metric").data(), st.read("c.set_kl").data());
        } catch (Exception e) {
            throw new IllegalStateException("cannot read fixture " + name + ": " + e.getMessage(), e);
        }
    }

    private static int[] ints(long[] src, int from, int n) {
        return Arrays.stream(src, from, from + n).mapToInt(v -> (int) v).toArray();
    }
}
