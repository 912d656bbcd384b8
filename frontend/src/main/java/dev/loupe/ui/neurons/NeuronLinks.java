package dev.loupe.ui.neurons;

/**
 * The neuron routes other views link to: a neuron's page {@code /model/{m}/neurons/{layer}/{index}} and a layer's
 * table in the browser {@code /model/{m}/neurons?layer={layer}}.
 */
public final class NeuronLinks {
    private NeuronLinks() {
    }

    public static String page(String model, int layer, int index) { return "/model/" + model + "/neurons/" + layer + "/" + index; }

    public static String layer(String model, int layer) { return "/model/" + model + "/neurons?layer=" + layer; }
}
