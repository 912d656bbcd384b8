package dev.loupe.neurons;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loupe.jobs.Cancelled;
import dev.loupe.jobs.Progress;
import dev.loupe.runtime.Engine;
import dev.loupe.runtime.RunRequest;
import dev.loupe.runtime.RunResult;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.loupe.service.ComputeScheduler;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/** The indexer against the PyTorch reference (tools/reference/neurons_reference.py) on two small random models. */
class NeuronIndexerTest {
    static final double TOL = 1e-4;
    static final Map<String, NeuronFixture> FIXTURES = new HashMap<>();
    static final Map<String, Engine> ENGINES = new HashMap<>();
    static final Map<String, NeuronIndex> INDEXES = new HashMap<>();

    @TempDir static Path dir;

    @BeforeAll
    static void build() throws IOException {
        for (String name : List.of("a", "b")) {
            NeuronFixture f = NeuronFixture.load(name);
            Engine e = Engine.create(f.weights());
            FIXTURES.put(name, f);
            ENGINES.put(name, e);
            INDEXES.put(name, indexer(f, e, f.optionsWithBands()).run(dir.resolve(name + ".idx"), null, Progress.NONE));
        }
    }

    @AfterAll
    static void close() { ENGINES.values().forEach(Engine::close); }

    static NeuronIndexer indexer(NeuronFixture f, Engine e, NeuronIndexer.Options o) {
        return new NeuronIndexer(e, f.weights(), "fixture-" + f.name(), "sha", f.bos(), f.corpus(), o);
    }

    static void close(double expected, double actual, String what) {
        assertEquals(expected, actual, TOL + TOL * Math.abs(expected), what);
    }

    @ParameterizedTest
    @ValueSource(strings = {"a", "b"})
    void statisticsMatchTheReference(String name) {
        NeuronFixture f = FIXTURES.get(name);
        NeuronIndex idx = INDEXES.get(name);
        assertEquals(f.expected().get("tokens").asLong(), idx.meta().tokens());
        assertEquals(f.expected().get("windows").size(), idx.windows());
        for (JsonNode e : f.expected().get("neurons")) {
            NeuronIndex.Neuron n = idx.neuron(e.get("layer").asInt(), e.get("index").asInt());
            String at = name + " L" + n.layer() + " N" + n.index() + " ";
            close(e.get("max").asDouble(), n.max(), at + "max");
            close(e.get("min").asDouble(), n.min(), at + "min");
            close(e.get("mean").asDouble(), n.mean(), at + "mean");
            close(e.get("variance").asDouble(), n.variance(), at + "variance");
            close(e.get("skew").asDouble(), n.skew(), at + "skew");
            close(e.get("kurtosis").asDouble(), n.kurtosis(), at + "kurtosis");
            close(e.get("density").asDouble(), n.density(), at + "density");
            // top examples, with their context activations (stored as float16)
            JsonNode top = e.get("top");
            double step = 0;
            for (JsonNode t : e.get("top")) for (JsonNode c : t.get("context")) step = Math.max(step, Math.abs(c.asDouble()) / 127);
            for (NeuronIndex.Band b : n.bands()) for (NeuronIndex.Example x : b.examples()) for (float c : x.context()) if (!Float.isNaN(c)) step = Math.max(step, Math.abs(c) / 127);
            assertEquals(top.size(), n.top().size(), at + "top count");
            for (int i = 0; i < top.size(); i++) {
                NeuronIndex.Example x = n.top().get(i);
                close(top.get(i).get("activation").asDouble(), x.activation(), at + "top " + i + " activation");
                // windows that begin with the same tokens tie exactly; float32 may order them either way
                if (top.get(i).get("window").asInt() != x.window() || top.get(i).get("position").asInt() != x.position()) {
                    assertTrue(isTie(top, i, x.activation()), at + "top " + i + " is another example and not a tie");
                    continue;
                }
                JsonNode ctx = top.get(i).get("context");
                for (int k = 0; k < ctx.size(); k++) {
                    if (ctx.get(k).isNull()) assertTrue(Float.isNaN(x.context()[k]), at + "context " + k + " outside the window");
                    else assertEquals(ctx.get(k).asDouble(), x.context()[k], step / 2 + TOL, at + "context " + k + " (8-bit)");
                }
            }
            // histogram: the same counts, give or take a value on a bin edge
            int[] hist = NeuronFixture.ints(e.get("histogram"));
            int diff = 0, total = 0;
            for (int b = 0; b < hist.length; b++) {
                diff += Math.abs(hist[b] - n.histogram()[b]);
                total += n.histogram()[b];
            }
            assertEquals(idx.meta().tokens(), total, at + "histogram total");
            assertTrue(diff <= 2, at + "histogram differs by " + diff);
            // bands: counts, and the seeded examples when the band's membership agrees
            for (int b = 0; b < 5; b++) {
                JsonNode band = e.get("bands").get(b);
                NeuronIndex.Band nb = n.bands().get(b);
                assertTrue(Math.abs(band.get("count").asLong() - nb.count()) <= 1, at + "band " + b + " count");
                if (band.get("count").asLong() != nb.count()) continue;
                Set<String> want = new HashSet<>(), got = new HashSet<>();
                for (JsonNode x : band.get("examples")) want.add(x.get(0).asInt() + ":" + x.get(1).asInt());
                for (NeuronIndex.Example x : nb.examples()) got.add(x.window() + ":" + x.position());
                assertEquals(want, got, at + "band " + b + " examples");
            }
            // mean activation per vocabulary token
            JsonNode toks = e.get("tokens");
            assertEquals(toks.size(), n.tokens().size(), at + "token means");
            for (int i = 0; i < toks.size(); i++) {
                assertEquals(toks.get(i).get(0).asInt(), n.tokens().get(i).id(), at + "token mean " + i);
                close(toks.get(i).get(1).asDouble(), n.tokens().get(i).mean(), at + "token mean " + i);
                assertEquals(toks.get(i).get(2).asLong(), n.tokens().get(i).count(), at + "token count " + i);
            }
            if (e.has("classMeans")) {
                JsonNode cm = e.get("classMeans");
                for (int c = 0; c < cm.size(); c++) {
                    if (cm.get(c).isNull()) assertTrue(Float.isNaN(n.classMeans()[c]), at + "class " + c);
                    else close(cm.get(c).asDouble(), n.classMeans()[c], at + "class " + c);
                }
                JsonNode tags = e.get("tags");
                assertEquals(tags.size(), n.tags().size(), at + "tag means");
                for (int i = 0; i < tags.size(); i++) {
                    assertEquals(tags.get(i).get(0).asInt(), n.tags().get(i).id(), at + "tag " + i);
                    close(tags.get(i).get(1).asDouble(), n.tags().get(i).mean(), at + "tag mean " + i);
                }
            }
            // label rule and its held-out score
            JsonNode rule = e.get("rule");
            assertArrayEquals(NeuronFixture.ints(rule.get("tokens")), n.rule().tokens(), at + "rule tokens");
            assertEquals(rule.get("class").asInt(), n.rule().tagClass(), at + "rule class");
            close(rule.get("share").asDouble(), n.rule().share(), at + "rule share");
            if (e.get("score").isNull()) assertTrue(Float.isNaN(n.score()), at + "no score");
            else close(e.get("score").asDouble(), n.score(), at + "score");
            // weights only
            JsonNode lg = e.get("logits");
            for (int i = 0; i < 10; i++) {
                assertEquals(lg.get("top").get(i).get(0).asInt(), n.topIds()[i], at + "top logit " + i);
                close(lg.get("top").get(i).get(1).asDouble(), n.topValues()[i], at + "top logit value " + i);
                assertEquals(lg.get("bottom").get(i).get(0).asInt(), n.bottomIds()[i], at + "bottom logit " + i);
                close(lg.get("bottom").get(i).get(1).asDouble(), n.bottomValues()[i], at + "bottom logit value " + i);
            }
            close(lg.get("vocabKurtosis").asDouble(), n.vocabKurtosis(), at + "vocab kurtosis");
            close(lg.get("vocabSkew").asDouble(), n.vocabSkew(), at + "vocab skew");
            assertEquals(lg.get("topTokenNeuron").asInt(), n.topTokenNeuron(), at + "congruent neuron of the top token");
            close(e.get("wIn").asDouble(), n.wIn(), at + "w_in");
            close(e.get("wOut").asDouble(), n.wOut(), at + "w_out");
            close(e.get("cos").asDouble(), n.cos(), at + "cos");
        }
    }

    /** True when another reference example has the same activation (within float32 noise). */
    static boolean isTie(JsonNode top, int i, float activation) {
        for (int j = 0; j < top.size(); j++)
            if (j != i && Math.abs(top.get(j).get("activation").asDouble() - activation) < 1e-5) return true;
        return top.size() > 0 && Math.abs(top.get(top.size() - 1).get("activation").asDouble() - activation) < 1e-5;
    }

    @ParameterizedTest
    @ValueSource(strings = {"a", "b"})
    void storedExamplesAreWhatTheEngineComputes(String name) {
        NeuronIndex idx = INDEXES.get(name);
        Engine engine = ENGINES.get(name);
        for (int l = 0; l < idx.meta().layers(); l++) {
            for (int n = 0; n < idx.meta().dMlp(); n += 7) {
                NeuronIndex.Neuron neuron = idx.neuron(l, n);
                List<NeuronIndex.Example> stored = new java.util.ArrayList<>(neuron.top());
                for (NeuronIndex.Band b : neuron.bands()) stored.addAll(b.examples());
                // the context is stored in 8 bits: steps of the neuron's largest |activation| / 127
                double step = Math.max(Math.abs(neuron.max()), Math.abs(neuron.min())) / 127;
                for (NeuronIndex.Example x : stored) {
                    int[] tokens = idx.windowTokens(x.window());
                    try (RunResult r = engine.run(RunRequest.of(tokens).cacheRegex("blocks\\." + l + "\\.mlp\\.hook_post").stopAfter(l))) {
                        var t = r.get("blocks." + l + ".mlp.hook_post");
                        String what = "L" + l + " N" + n + " window " + x.window() + " position " + x.position();
                        assertEquals(x.activation(), t.get(0, x.position(), n), 1e-5, what);
                        for (int i = 0; i < x.context().length; i++) {
                            int p = x.contextStart() + i;
                            if (p < 0 || p >= tokens.length) assertTrue(Float.isNaN(x.context()[i]), what + ": outside the window");
                            else assertEquals(t.get(0, p, n), x.context()[i], step / 2 + 1e-5, what + " context " + p);
                        }
                    }
                }
            }
        }
    }

    @Test
    void logitEffectsAreTheProductOfTheWeights() {
        NeuronFixture f = FIXTURES.get("a");
        var w = f.weights();
        int d = f.config().dModel(), v = f.config().dVocab(), m = f.config().dMlp();
        float[] wout = w.layer(1, "mlp.c_proj.weight").data(), lnw = w.get("ln_f.weight").data(), we = w.get("wte.weight").data();
        int n = 17;
        float[] effect = WeightStats.logitEffect(w, 1, n);
        float[] onToken = WeightStats.effectsOnToken(w, 5);
        for (int t = 0; t < v; t++) {
            double e = 0;
            for (int k = 0; k < d; k++) e += (double) wout[n * d + k] * lnw[k] * we[t * d + k];
            assertEquals(e, effect[t], 1e-5, "token " + t);
            if (t == 5) assertEquals(e, onToken[m + n], 1e-5);
        }
        NeuronIndex.Neuron stored = INDEXES.get("a").neuron(1, n);
        for (int i = 0; i < 10; i++) assertEquals(effect[stored.topIds()[i]], stored.topValues()[i], 1e-6);
    }

    @Test
    void anInterruptedRunResumesToTheSameIndex(@TempDir Path tmp) throws IOException {
        NeuronFixture f = FIXTURES.get("a");
        NeuronIndexer.Options o = f.optionsWithBands().withCheckpointSeconds(0).withBatch(2);
        byte[] uninterrupted = Files.readAllBytes(indexer(f, ENGINES.get("a"), o).run(tmp.resolve("whole.idx"), null, Progress.NONE) == null
                ? null : tmp.resolve("whole.idx"));
        Path out = tmp.resolve("resumed.idx"), checkpoint = tmp.resolve("resumed.ckpt");
        // cancel in each phase in turn: pass 1, pass 2, scoring
        for (int stopAfter : new int[]{3, 9, 15}) {
            AtomicInteger reports = new AtomicInteger();
            Progress cancelling = new Progress() {
                @Override public void report(double fraction, String message) { reports.incrementAndGet(); }
                @Override public boolean cancelled() { return reports.get() >= stopAfter; }
            };
            assertThrows(Cancelled.class, () -> indexer(f, ENGINES.get("a"), o).run(out, checkpoint, cancelling));
            assertTrue(Files.exists(checkpoint), "a checkpoint is left behind");
            assertFalse(Files.exists(out));
        }
        indexer(f, ENGINES.get("a"), o).run(out, checkpoint, Progress.NONE);
        assertArrayEquals(uninterrupted, Files.readAllBytes(out));
        assertFalse(Files.exists(checkpoint), "the checkpoint is removed once the index is written");
    }

    @Test
    void aCheckpointOfAnotherRunIsNotResumed(@TempDir Path tmp) throws IOException {
        NeuronFixture f = FIXTURES.get("a");
        NeuronIndexer.Options o = f.optionsWithBands().withCheckpointSeconds(0).withBatch(2);
        Path checkpoint = tmp.resolve("x.ckpt");
        AtomicInteger reports = new AtomicInteger();
        Progress cancelling = new Progress() {
            @Override public void report(double fraction, String message) { reports.incrementAndGet(); }
            @Override public boolean cancelled() { return reports.get() >= 4; }
        };
        assertThrows(Cancelled.class, () -> indexer(f, ENGINES.get("a"), o).run(tmp.resolve("x.idx"), checkpoint, cancelling));
        NeuronIndexer.Options other = o.withTop(3);
        NeuronIndex idx = indexer(f, ENGINES.get("a"), other).run(tmp.resolve("x.idx"), checkpoint, Progress.NONE);
        NeuronIndex fresh = indexer(f, ENGINES.get("a"), other).run(tmp.resolve("y.idx"), null, Progress.NONE);
        assertArrayEquals(fresh.bytes(), idx.bytes());
    }

    @Test
    void everyBatchPassesTheGateAndInteractiveWorkGetsInBetween(@TempDir Path tmp) throws Exception {
        NeuronFixture f = FIXTURES.get("a");
        NeuronIndexer.Options o = f.optionsWithBands().withCheckpointSeconds(0).withBatch(1);
        byte[] direct = indexer(f, ENGINES.get("a"), o).run(tmp.resolve("direct.idx"), null, Progress.NONE).bytes();
        // one compute slot: were the index to hold it for its whole run, the interactive request would wait for the end
        ComputeScheduler scheduler = new ComputeScheduler(new ComputeScheduler.Limits(1, 8, Duration.ofSeconds(60), 1L << 30, 8));
        AtomicInteger batches = new AtomicInteger();
        CountDownLatch started = new CountDownLatch(1);
        NeuronIndexer gated = indexer(f, ENGINES.get("a"), o).gate(batch -> scheduler.runWhenFree(1 << 20, () -> false, () -> {
            batch.run();
            batches.incrementAndGet();
            started.countDown();
            Thread.sleep(5); // a batch of a real model takes longer than these tiny ones
            return null;
        }));
        CompletableFuture<NeuronIndex> job = CompletableFuture.supplyAsync(() -> {
            try {
                return gated.run(tmp.resolve("gated.idx"), null, Progress.NONE);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        assertTrue(started.await(60, TimeUnit.SECONDS));
        int seenByInteractive = scheduler.run("ui", null, 1 << 20, batches::get);
        NeuronIndex idx = job.get(120, TimeUnit.SECONDS);
        int total = batches.get();
        int w = gated.indexWindowCount();
        assertTrue(total > 2 * w, "every batch of both passes and of the scoring passed the gate: " + total);
        assertTrue(seenByInteractive < total, "the interactive request ran between batches (after " + seenByInteractive + " of " + total + ")");
        assertArrayEquals(direct, idx.bytes(), "the gate changes nothing in the result");

        // cancelled while a batch waits for the gate: a checkpoint is left and the resumed run gives the same index
        Path out = tmp.resolve("resumed.idx"), checkpoint = tmp.resolve("resumed.ckpt");
        AtomicInteger admitted = new AtomicInteger();
        NeuronIndexer refusing = indexer(f, ENGINES.get("a"), o).gate(batch -> {
            if (admitted.incrementAndGet() > 4) throw new Cancelled();
            batch.run();
        });
        assertThrows(Cancelled.class, () -> refusing.run(out, checkpoint, Progress.NONE));
        assertTrue(Files.exists(checkpoint));
        indexer(f, ENGINES.get("a"), o).run(out, checkpoint, Progress.NONE);
        assertArrayEquals(direct, Files.readAllBytes(out));
    }

    @Test
    void readsBackWhatItWrote() throws IOException {
        NeuronIndex idx = INDEXES.get("a");
        NeuronIndex again = NeuronIndex.read(dir.resolve("a.idx"));
        assertArrayEquals(idx.bytes(), again.bytes());
        Path gz = dir.resolve("a.idx.gz");
        IndexWriter.writeAtomically(idx, gz);
        assertArrayEquals(idx.bytes(), NeuronIndex.read(gz).bytes());
        assertThrows(IndexOutOfBoundsException.class, () -> idx.neuron(2, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> idx.neuron(0, 48));
        assertEquals("fixture-a", idx.meta().model());
        assertEquals(List.of("", "ADJ", "DET", "NOUN", "VERB"), idx.meta().classes());
    }
}
