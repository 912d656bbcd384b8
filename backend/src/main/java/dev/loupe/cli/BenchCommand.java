package dev.loupe.cli;

import picocli.CommandLine.Command;

@Command(name = "bench", description = "Benchmarks.", subcommands = {EngineBenchCommand.class, ExplorerBench.class, PatchingBench.class, TrainBench.class, CircuitBench.class, LoadBench.class, NeuronBench.class})
final class BenchCommand implements Runnable {
    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

    @Override public void run() { spec.commandLine().usage(System.out); }
}
