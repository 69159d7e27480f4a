package dev.daxload.djl.compat.internal;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.repository.Repository;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The loader jar on the class path of an application running on a real JDK 17: DJL keeps working for
 * its own URLs, and a {@code daxfs:} URL fails with one sentence naming the Java version needed.
 */
class OlderJavaTest {
    private static final String APP = """
                import ai.djl.repository.Repository;
                public class App {
                    public static void main(String[] args) throws Exception {
                        Repository file = Repository.newInstance("local", java.nio.file.Path.of(args[0]));
                        System.out.println("file: " + file.getClass().getSimpleName() + " " + file.isRemote());
                        System.out.println("module: " + ModuleLayer.boot().findModule("dev.daxload.loader")
                                .map(m -> m.getDescriptor().isAutomatic() ? "automatic" : "explicit").orElse("none"));
                        try {
                            Repository.newInstance("m", "daxfs:///srv/models.daxfs?model=m");
                            System.out.println("daxfs: no error");
                        } catch (Throwable t) {
                            System.out.println("daxfs: " + t.getClass().getName() + ": " + t.getMessage());
                        }
                    }
                }
                """;

    @TempDir Path tmp;

    /** A JDK 17 of the machine (/usr/lib/jvm/*17*), if there is one. */
    static Optional<Path> jdk17() throws Exception {
        Path jvms = Path.of("/usr/lib/jvm");
        if (!Files.isDirectory(jvms)) {
            return Optional.empty();
        }
        try (Stream<Path> s = Files.list(jvms)) {
            return s.filter(p -> p.getFileName().toString().contains("17"))
                    .filter(p -> Files.isExecutable(p.resolve("bin/java")) && Files.isRegularFile(p.resolve("lib/modules")))
                    .sorted().findFirst();
        }
    }

    @Test
    void onJava17DjlWorksAndDaxfsUrlsSayWhichJavaTheyNeed() throws Exception {
        Optional<Path> jdk = jdk17();
        assumeTrue(jdk.isPresent(), "no JDK 17 under /usr/lib/jvm");
        Path models = Files.createDirectories(tmp.resolve("models"));
        // An application compiled and run by the JDK 17 itself (the source launcher), with the loader and
        // DJL on its class path exactly as this test has them.
        Path app = Files.writeString(tmp.resolve("App.java"), APP);
        check(run(jdk.get(), List.of("-cp", System.getProperty("java.class.path")), app, models), "none");
    }

    /**
     * The same on the module path: the loader as the named module its descriptor (compiled for 17) makes,
     * found by DJL through the descriptor's {@code provides}, since a named module's META-INF/services is
     * not read.
     */
    @Test
    void onJava17TheLoaderModuleGivesTheSameAnswer() throws Exception {
        Optional<Path> jdk = jdk17();
        assumeTrue(jdk.isPresent(), "no JDK 17 under /usr/lib/jvm");
        Path models = Files.createDirectories(tmp.resolve("models"));
        Path app = Files.writeString(tmp.resolve("App.java"), APP);
        // the loader's classes (with module-info.class) and the modules DJL's API and the loader need
        List<String> modules = new java.util.ArrayList<>();
        modules.add(Path.of(dev.daxload.image.DaxImage.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString());
        for (String jar : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            String name = Path.of(jar).getFileName().toString();
            if (name.matches("(api|gson|slf4j-api|jna|commons-compress|commons-io|commons-codec)-[0-9].*\\.jar")) {
                modules.add(jar);
            }
        }
        assertEquals(8, modules.size(), modules.toString());
        check(run(jdk.get(), List.of("--module-path", String.join(java.io.File.pathSeparator, modules),
                "--add-modules", "dev.daxload.loader,ai.djl.api"), app, models), "explicit");
    }

    private static String run(Path jdk, List<String> path, Path app, Path models) throws Exception {
        List<String> cmd = new java.util.ArrayList<>();
        cmd.add(jdk.resolve("bin/java").toString());
        cmd.addAll(path);
        cmd.add(app.toString());
        cmd.add(models.toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    private static void check(String out, String module) {
        assertTrue(out.lines().anyMatch(("module: " + module)::equals), "the loader as a module: " + module + "\n" + out);
        List<String> lines = out.lines().filter(l -> l.startsWith("file:") || l.startsWith("daxfs:")).toList();
        assertEquals(2, lines.size(), out);
        assertEquals("file: SimpleRepository false", lines.get(0), out);
        assertTrue(lines.get(1).startsWith("daxfs: java.lang.UnsupportedOperationException: daxload needs Java 25 or newer")
                && lines.get(1).contains("this JVM is Java 17"), lines.get(1));
    }

    @Test
    void onThisJvmTheEntryHandsDaxfsUrlsToTheLoader() throws Exception {
        assertTrue(Runtime.version().feature() >= VersionCheckingRepositoryFactory.JAVA_NEEDED);
        Repository r = Repository.newInstance("m", "daxfs://" + tmp.resolve("models.daxfs") + "?model=m");
        assertEquals("dev.daxload.djl.DaxfsRepository", r.getClass().getName(), "the loader's own repository answers");
    }
}
