package dev.daxload.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code daxload} command line: make, inspect, unpack and mount DAXFS images; hold them in GPU memory.
 *
 * <p>Exit codes: 0 success, 1 failure (an unreadable or unsound image, an I/O error), 2 bad usage.
 * Errors go to standard error as one line naming the file and what is wrong.
 */
@Command(name = "daxload",
        mixinStandardHelpOptions = true,
        versionProvider = Daxload.Version.class,
        description = "Model weights served zero-copy from DAXFS images.",
        subcommands = {
            PackCommand.class,
            LsCommand.class,
            CatCommand.class,
            ExtractCommand.class,
            InspectCommand.class,
            VerifyCommand.class,
            PackModelCommand.class,
            PrepackCommand.class,
            PlaceCommand.class,
            TensorsCommand.class,
            LookupCommand.class,
            PushCommand.class,
            PullCommand.class,
            MountCommand.class,
            UmountCommand.class,
            GpuCommand.class,
            CommandLine.HelpCommand.class
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:success", "1:failure (bad image, I/O error)", "2:bad usage"})
public final class Daxload implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand");
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns its exit code (for tests and embedding). */
    public static int run(String... args) {
        return commandLine().execute(args);
    }

    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Daxload());
        cl.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            PrintWriter err = commandLine.getErr();
            // qualifiedName: "daxload gpu load", not just "load", for nested commands.
            String command = commandLine.getCommandSpec().qualifiedName();
            if (jsonRequested(commandLine)) {
                JsonOutput.print(err, JsonOutput.error(command, describe(e), 1));
                return 1;
            }
            err.println(command + ": " + describe(e));
            if (Boolean.getBoolean("daxload.debug")) {
                e.printStackTrace(err);
            }
            err.flush();
            return 1;
        });
        CommandLine.IParameterExceptionHandler usage = cl.getParameterExceptionHandler();
        cl.setParameterExceptionHandler((ex, args) -> {
            // --json anywhere before "--" asks for the error as JSON too, even when the parse failed before it
            if (java.util.Arrays.asList(args).subList(0, dashDash(args)).contains("--json")) {
                CommandLine c = ex.getCommandLine();
                JsonOutput.print(c.getErr(), JsonOutput.error(c.getCommandSpec().qualifiedName(), ex.getMessage(), 2));
                return 2;
            }
            return usage.handleParseException(ex, args);
        });
        return cl;
    }

    private static int dashDash(String[] args) {
        int i = java.util.Arrays.asList(args).indexOf("--");
        return i < 0 ? args.length : i;
    }

    /** Whether the command that failed has a {@code --json} option and it was given. */
    private static boolean jsonRequested(CommandLine commandLine) {
        CommandLine.Model.OptionSpec json = commandLine.getCommandSpec().findOption("--json");
        return json != null && Boolean.TRUE.equals(json.getValue());
    }

    /** One line for a failure: the message, with the exception's kind where the message alone is unclear. */
    static String describe(Throwable e) {
        String m = e.getMessage();
        return switch (e) {
            case java.nio.file.NoSuchFileException n -> (n.getFile() != null ? n.getFile() : m) + ": no such file or directory";
            case java.nio.file.AccessDeniedException a -> a.getFile() + ": permission denied";
            case java.nio.file.FileAlreadyExistsException f -> f.getFile() + ": already exists";
            case java.nio.file.NotDirectoryException d -> d.getFile() + ": not a directory";
            default -> m != null ? m : e.toString();
        };
    }

    /** Version, commit and build time from the build, the Java runtime, the format versions. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return BuildInfo.load().lines();
        }
    }
}
