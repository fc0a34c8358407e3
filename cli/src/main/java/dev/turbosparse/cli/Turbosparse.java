package dev.turbosparse.cli;

import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.core.config.Configurator;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The {@code turbosparse} command: make LLMs activation-sparse with dReLU, measure them, and run them fast. */
@Command(name = "turbosparse", mixinStandardHelpOptions = true, versionProvider = Turbosparse.Version.class,
        description = "Activation-sparse LLMs: dReLU continued pretraining, sparsity analysis, sparse decoding.",
        subcommands = {InspectCommand.class, LogitsCommand.class, GenerateCommand.class, InitCommand.class,
            SwapCommand.class, PrepareCommand.class, MixtureCommand.class, TrainCommand.class, PredictorsCommand.class, SparsityCommand.class,
            EvalCommand.class, ExportCommand.class, ReportCommand.class, PlotCommand.class, BenchCommand.class,
            DemoCommand.class,
            CommandLine.HelpCommand.class},
        footer = {"", "Run 'turbosparse help <command>' for a command's options."})
public final class Turbosparse implements Runnable {

    @Option(names = {"-v", "--verbose"}, scope = CommandLine.ScopeType.INHERIT,
            description = "Log debug detail, and the stack trace of an unexpected error.")
    void setVerbose(boolean verbose) {
        if (verbose) {
            Configurator.setLevel("dev.turbosparse", Level.DEBUG);
            Cli.verbose = true;
        }
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs a command line and returns its exit code (the tests call this). */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Turbosparse());
        cli.setExecutionExceptionHandler(Cli::handle);
        cli.setParameterExceptionHandler(Cli::handleUsage);
        return cli.execute(args);
    }

    /** The version from the jar manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Turbosparse.class.getPackage().getImplementationVersion();
            return new String[] {"turbosparse " + (v == null ? "(development build)" : v)};
        }
    }
}
