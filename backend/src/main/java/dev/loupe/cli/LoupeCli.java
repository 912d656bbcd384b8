package dev.loupe.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

/** Loupe's command line: {@code import}, {@code dump}, {@code patch}, {@code train}, {@code bench}, {@code corpus}, {@code circuit} and {@code neurons}. Errors print one line and exit non-zero. */
@Command(name = "loupe", mixinStandardHelpOptions = true, version = "Loupe 0.1",
        description = "Loupe: mechanistic interpretability workbench for GPT-2-family models.",
        subcommands = {ImportCommand.class, DumpCommand.class, PatchCommand.class, TrainCommand.class, BenchCommand.class, CorpusCommand.class, CircuitCommand.class, NeuronsCommand.class, ProbesCommand.class})
public final class LoupeCli implements Runnable {

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public void run() { spec.commandLine().usage(spec.commandLine().getOut()); }

    public static void main(String[] args) {
        // the Quarkus log manager is on the class path; without this, JUL complains on stderr when first used
        if (System.getProperty("java.util.logging.manager") == null) System.setProperty("java.util.logging.manager", "org.jboss.logmanager.LogManager");
        System.exit(execute(args));
    }

    /** Runs a command line and returns its exit code (0 ok, 1 failed, 2 bad usage). */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new LoupeCli());
        cl.setExecutionExceptionHandler((ex, line, parsed) -> {
            PrintWriter err = line.getErr();
            String msg = ex.getMessage() == null ? ex.getClass().getSimpleName() : ex.getMessage();
            err.println("loupe: error: " + msg);
            err.flush();
            return 1;
        });
        return cl.execute(args);
    }
}
