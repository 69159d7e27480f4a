package dev.daxload.cli;

import dev.daxload.image.ImageProblem;
import dev.daxload.image.ImageValidator;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Check an image against every rule of the format.",
            "Exits 0 only for a sound image; prints each problem with its inode, offset and rule."})
final class VerifyCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IMAGE")
    Path imagePath;

    @Option(names = {"-q", "--quiet"}, description = "print nothing; the exit code tells")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        ImageValidator.Result result;
        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(imagePath, StandardOpenOption.READ)) {
            MemorySegment seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            result = ImageValidator.validate(seg);
        }
        if (!quiet) {
            for (ImageProblem p : result.problems()) {
                err.println(imagePath + ": " + p);
            }
            if (result.droppedProblems() > 0) {
                err.println(imagePath + ": ... and " + result.droppedProblems() + " more problems");
            }
            if (result.sound()) {
                spec.commandLine().getOut().println(imagePath + ": OK (" + result.superblock().inodeCount() + " inodes)");
            } else {
                err.println(imagePath + ": " + result.errorCount() + " errors, "
                        + (result.problems().size() - result.errorCount() + result.droppedProblems()) + " warnings");
            }
        }
        spec.commandLine().getOut().flush();
        err.flush();
        return result.sound() ? 0 : 1;
    }
}
