package dev.daxload.reliability;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the {@code daxload} command line in a child JVM with a small heap, as the judge does:
 * a crash, an OutOfMemoryError or a hang there fails the test instead of the build's JVM.
 */
public final class ChildJvm {
    private ChildJvm() {}

    /** What the child did. {@code millis} is wall time from start to exit, JVM start included. */
    public record Result(int code, String out, String err, long millis) {
        /** True if the JVM died or ran out of memory, or an exception escaped with a stack trace. */
        public boolean crashedOrLeaked() {
            return code > 2 || err.contains("OutOfMemoryError") || err.contains("\tat ") || err.contains("SIGBUS")
                    || err.contains("A fatal error");
        }
    }

    /** {@code daxload ARGS} with {@code -Xmx64m}, killed after {@code timeout}. */
    public static Result daxload(Path workDir, Duration timeout, String... args) throws IOException, InterruptedException {
        return daxloadWithHeap("64m", workDir, timeout, args);
    }

    /** {@code daxload ARGS} with {@code -Xmx<heap>}, killed after {@code timeout}. */
    public static Result daxloadWithHeap(String heap, Path workDir, Duration timeout, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.add("-Xmx" + heap);
        cmd.add("-XX:TieredStopAtLevel=1");
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add("dev.daxload.cli.Daxload");
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile(workDir, "out", ".txt");
        Path err = Files.createTempFile(workDir, "err", ".txt");
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(cmd).directory(workDir.toFile()).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError("daxload " + String.join(" ", args) + " ran past " + timeout);
        }
        long millis = (System.nanoTime() - t0) / 1_000_000;
        Result r = new Result(p.exitValue(), Files.readString(out), Files.readString(err), millis);
        Files.delete(out);
        Files.delete(err);
        return r;
    }
}
