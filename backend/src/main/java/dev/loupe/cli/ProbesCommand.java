package dev.loupe.cli;

import dev.loupe.analysis.BehaviourProbes;
import dev.loupe.analysis.Subject;
import dev.loupe.model.LoadedModel;
import dev.loupe.runtime.Engine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "probes", description = "Behaviour probes (a/an, agreement, quotes, \" States\", copying, induction heads) of GPT-2-tokenizer models, side by side, as a Markdown table.")
final class ProbesCommand implements Callable<Integer> {
    @Parameters(arity = "1..*", paramLabel = "MODEL", description = "model names") List<String> names;
    @Mixin ModelsDir models;

    @Override
    public Integer call() {
        List<BehaviourProbes.Result> results = new ArrayList<>();
        for (String name : names) {
            LoadedModel m = DumpCommand.openModel(models.resolve(), name);
            try (Engine engine = Engine.create(m.weights())) {
                results.add(BehaviourProbes.compute(new Subject(engine, m.weights(), m.tokenizer())));
            } catch (IllegalArgumentException e) {
                throw new CliException(name + ": " + e.getMessage());
            }
        }
        System.out.print(table(names, results));
        return 0;
    }

    static String table(List<String> names, List<BehaviourProbes.Result> results) {
        StringBuilder b = new StringBuilder("| behaviour | prompt → expected vs contrast |");
        for (String n : names) b.append(" `").append(n).append("` |");
        b.append("\n| --- | --- |").append(" ---: |".repeat(names.size())).append('\n');
        for (int i = 0; i < BehaviourProbes.PREFERENCES.size(); i++) {
            BehaviourProbes.Preference p = BehaviourProbes.PREFERENCES.get(i);
            b.append("| ").append(p.behaviour()).append(" | ").append(md(p.prompt())).append(" → `").append(md(p.expected()))
                    .append("` vs `").append(md(p.contrast())).append("` |");
            for (BehaviourProbes.Result r : results) {
                BehaviourProbes.PreferenceResult x = r.preferences().get(i);
                b.append(String.format(Locale.ROOT, " %s vs %s %s |", prob(x.pExpected()), prob(x.pContrast()), x.holds() ? "✓" : "✗"));
            }
            b.append('\n');
        }
        b.append("| copying | a new paragraph written twice: loss on the first → second copy (nats/token) |");
        for (BehaviourProbes.Result r : results) b.append(String.format(Locale.ROOT, " %.3f → %.3f |", r.copy().first(), r.copy().second()));
        b.append("\n| induction heads | best head's induction score, ").append(BehaviourProbes.INDUCTION_LENGTH)
                .append(" random tokens repeated (chance) |");
        for (BehaviourProbes.Result r : results)
            b.append(String.format(Locale.ROOT, " %s: %.3f (%.3f) |", r.induction().head(), r.induction().score(), r.induction().chance()));
        return b.append('\n').toString();
    }

    private static String prob(double p) {
        return p >= 0.001 ? String.format(Locale.ROOT, "%.3f", p) : String.format(Locale.ROOT, "%.1e", p);
    }

    private static String md(String s) {
        return s.replace("|", "\\|");
    }
}
