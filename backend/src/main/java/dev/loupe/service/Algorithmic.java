package dev.loupe.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.algorithmic.ModularAddition;
import dev.loupe.api.ApiException;
import dev.loupe.jobs.Progress;
import dev.loupe.model.Evaluations;
import dev.loupe.model.ModelFolder;
import dev.loupe.tokenizer.ListTokenizer;
import dev.loupe.train.ModAddSplit;
import jakarta.enterprise.context.ApplicationScoped;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Algorithmic models (modular addition): the embedding's spectrum, the answers over the (a, b) grid with the
 * training pairs marked, the neurons by frequency, and the training curves of the model's {@code eval.csv}. The grid
 * runs all p² prompts once per weights version (through the scheduler) and is kept in memory.
 */
@ApplicationScoped
public class Algorithmic {
    static final int KEYS = 6;

    /**
     * @param trainPairs   isTrain[a][b], null when the model folder has no modadd recipe
     * @param neuronCounts how many neurons have each dominant frequency, [k]
     * @param curves       eval.csv: column names and rows (null where a cell is not a number); empty when absent
     */
    public record Overview(String model, int p, ModularAddition.Spectrum spectrum, float[][] answerProb, boolean[][] correct,
                           boolean[][] trainPairs, Double trainAccuracy, double testAccuracy, int[] neuronFreq,
                           double[] neuronFreqFraction, int[] neuronCounts, Evaluations curves) {}


    /** One neuron's activation at '=' over the grid [a][b] and its share of power per frequency [k]. */
    public record Neuron(String model, int neuron, int frequency, double fraction, float[][] activation, double[] power) {}

    private final ModelEngines engines;
    private final ComputeScheduler scheduler;
    private final Map<String, ModularAddition.Grid> grids = new ConcurrentHashMap<>();

    public Algorithmic(ModelEngines engines, ComputeScheduler scheduler) {
        this.engines = engines;
        this.scheduler = scheduler;
    }

    /** p of a modular-addition model, or a 400 saying why the model is not one. */
    public int modulus(String model) {
        var loaded = engines.get(model);
        if (!(loaded.subject().tokenizer() instanceof ListTokenizer lt) || ModularAddition.modulus(lt.vocab()) < 0)
            throw ApiException.badRequest("model '" + model + "' is not an algorithmic model: its vocabulary is not the numbers 0 … p-1 followed by '='");
        if (loaded.subject().config().nCtx() < 3) throw ApiException.badRequest("model '" + model + "' has a context under 3 tokens");
        return ModularAddition.modulus(lt.vocab());
    }

    public Overview overview(String model, String client) {
        int p = modulus(model);
        var loaded = engines.get(model);
        ModularAddition.Grid g = grid(model, client, p);
        ModularAddition.Spectrum s = ModularAddition.spectrum(loaded.subject().weights().get("wte.weight"), p, KEYS);
        ModelFolder folder = engines.entry(model).folder();
        boolean[][] train = split(folder, p);
        int trainRight = 0, trainN = 0, testRight = 0, testN = 0;
        for (int a = 0; a < p; a++)
            for (int b = 0; b < p; b++) {
                boolean t = train != null && train[a][b];
                if (t) { trainN++; if (g.correct()[a][b]) trainRight++; }
                else { testN++; if (g.correct()[a][b]) testRight++; }
            }
        int[] counts = new int[p / 2 + 1];
        for (int f : g.neuronFreq()) counts[f]++;
        return new Overview(model, p, s, g.answerProb(), g.correct(), train, trainN == 0 ? null : (double) trainRight / trainN,
                testN == 0 ? 0 : (double) testRight / testN, g.neuronFreq(), g.neuronFreqFraction(), counts, folder.evaluations());
    }

    public Neuron neuron(String model, int neuron, String client) {
        int p = modulus(model);
        ModularAddition.Grid g = grid(model, client, p);
        if (neuron < 0 || neuron >= g.neuronFreq().length)
            throw ApiException.badRequest("neuron " + neuron + " is not in 0 … " + (g.neuronFreq().length - 1));
        return new Neuron(model, neuron, g.neuronFreq()[neuron], g.neuronFreqFraction()[neuron], g.neuron(neuron), g.neuronPower()[neuron]);
    }

    private ModularAddition.Grid grid(String model, String client, int p) {
        var loaded = engines.get(model);
        String key = "algorithmic:" + loaded.fingerprint();
        ModularAddition.Grid g = grids.get(key);
        if (g != null) return g;
        var c = loaded.subject().config();
        long bytes = (long) p * p * c.dMlp() * 4 * 2 + (long) ModularAddition.CHUNK * 3 * (c.dVocab() + c.dMlp()) * 4 * 2;
        g = scheduler.run(client, key, bytes, () -> ModularAddition.grid(loaded.subject().engine(), p, Progress.NONE));
        grids.put(key, g);
        return g;
    }

    /** The training pairs named by the folder's recipe.json (task modadd), or null. */
    static boolean[][] split(ModelFolder folder, int p) {
        Path recipe = folder.dir().resolve("recipe.json");
        if (!Files.exists(recipe)) return null;
        try {
            JsonNode task = new ObjectMapper().readTree(recipe.toFile()).path("task");
            if (!task.path("type").asText().equals("modadd") || task.path("p").asInt(p) != p) return null;
            return ModAddSplit.of(p, task.path("train_fraction").asDouble(0.3), task.path("split_seed").asLong(0)).trainMask();
        } catch (IOException e) {
            return null;
        }
    }
}
