package dev.daxload.samples.server;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** Java programs of the test class path run as processes of their own, with their output read line by line. */
final class Children {
    private static final String END = "\u0000end";

    private Children() {}

    private static final java.util.Map<Process, BlockingQueue<String>> LINES = new java.util.concurrent.ConcurrentHashMap<>();

    /** Starts {@code main} of {@code mainClass} in a new JVM with this test's class path; stdout and stderr merged. */
    static Process start(Class<?> mainClass, List<String> args) throws IOException {
        return start(mainClass, List.of(), args);
    }

    /** As {@link #start(Class, List)}, with {@code jvmOptions} (system properties) before the main class. */
    static Process start(Class<?> mainClass, List<String> jvmOptions, List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Dai.djl.offline=true", "-DPYTORCH_FLAVOR=cpu"));
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")), mainClass.getName()));
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getOutputStream().close();
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        LINES.put(p, lines);
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = r.readLine(); line != null; line = r.readLine()) {
                    lines.add(line);
                }
            } catch (IOException ignored) {
                // the process went away
            }
            lines.add(END);
        }, "child-output");
        reader.setDaemon(true);
        reader.start();
        return p;
    }

    /** The first line holding {@code marker}; fails with everything the process printed if it ends or 3 minutes pass first. */
    static String awaitLine(Process p, String marker) throws InterruptedException {
        BlockingQueue<String> lines = LINES.get(p);
        StringBuilder seen = new StringBuilder();
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (System.nanoTime() < deadline) {
            String line = lines.poll(1, TimeUnit.SECONDS);
            if (line == null) {
                continue;
            }
            if (line.equals(END)) {
                break;
            }
            seen.append(line).append('\n');
            if (line.contains(marker)) {
                return line;
            }
        }
        p.destroyForcibly();
        throw new AssertionError("no line with '" + marker + "' from the child process; it printed:\n" + seen);
    }

    /** What follows {@code marker} on its line, after which the process must exit 0. */
    static String output(Process p, String marker) throws InterruptedException {
        String line = awaitLine(p, marker);
        if (!p.waitFor(1, TimeUnit.MINUTES) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new AssertionError("child process did not exit 0 after printing its result");
        }
        return line.substring(line.indexOf(marker) + marker.length());
    }
}
