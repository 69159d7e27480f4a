package dev.daxload.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.model.ModelPackager;
import dev.daxload.packager.source.OnnxReader;
import dev.daxload.packager.source.SourceModel;
import dev.daxload.packager.source.SourceTensor;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fresh JVMs, as an inference server or the command line starts: the JDK 25 AOT cache the project
 * trains is really used (checked in {@code -Xlog:aot} and {@code -Xlog:class+load}, because a refused
 * cache only makes the JVM slower, never fails it), and an open links no native downcall it does not
 * need.
 */
class AotCacheTest {
    private static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    private static final String NATIVE_ACCESS = "--enable-native-access=ALL-UNNAMED";

    @TempDir static Path tmp;
    static String classPath;

    @BeforeAll
    static void setUp() throws Exception {
        Path models = Path.of(System.getProperty("daxload.testModels", "target/models")).resolve("all-minilm-l6-v2");
        ModelPackager p = new ModelPackager();
        Path tok = models.resolve("all-minilm-l6-v2-tokenizer.json");
        p.model("minilm").add(new OnnxReader().read(models.resolve("all-minilm-l6-v2.onnx")))
                .sideFile("tokenizer.json", dev.daxload.packager.image.FileContent.of(tok, Files.size(tok)));
        p.write(new ImageWriter(), tmp.resolve("minilm.daxfs"));
        // An LLM's mix: BF16 (which DJL's JNI binding cannot make) and F32.
        List<SourceTensor> mix = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            mix.add(new SourceTensor("t" + i, i % 3 == 0 ? "F32" : "BF16", new long[] {4, 8},
                    dev.daxload.packager.image.FileContent.of(new byte[i % 3 == 0 ? 128 : 64])));
        }
        ModelPackager bf16 = new ModelPackager();
        bf16.model("bf16mix").add(new SourceModel("raw", List.of(), new JsonObject(), mix, Map.of()));
        bf16.write(new ImageWriter(), tmp.resolve("bf16mix.daxfs"));
        classPath = jarsOnly(tmp.resolve("jars"));
    }

    /** The test class path with every directory packed into a jar: an AOT cache takes jars only. */
    private static String jarsOnly(Path dir) throws IOException {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Files.createDirectories(dir);
        List<String> out = new ArrayList<>();
        int n = 0;
        for (String entry : cp.split(File.pathSeparator)) {
            Path p = Path.of(entry);
            if (Files.isDirectory(p)) {
                Path jar = dir.resolve("dir" + n++ + ".jar");
                try (JarOutputStream j = new JarOutputStream(Files.newOutputStream(jar)); Stream<Path> files = Files.walk(p)) {
                    for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile).sorted()::iterator) {
                        j.putNextEntry(new JarEntry(p.relativize(f).toString().replace(File.separatorChar, '/')));
                        Files.copy(f, j);
                        j.closeEntry();
                    }
                }
                out.add(jar.toString());
            } else if (Files.isRegularFile(p)) {
                out.add(entry);
            }
        }
        return String.join(File.pathSeparator, out);
    }

    private static String run(List<String> command) throws Exception {
        Process proc = new ProcessBuilder(command).redirectErrorStream(true).start();
        proc.getOutputStream().close();
        byte[] out = proc.getInputStream().readAllBytes();
        assertTrue(proc.waitFor(5, TimeUnit.MINUTES), "timed out: " + command);
        String text = new String(out, StandardCharsets.UTF_8);
        assertEquals(0, proc.exitValue(), String.join(" ", command) + "\n" + text);
        return text;
    }

    private static List<String> java(List<String> jvmOptions, String main, String... args) {
        List<String> c = new ArrayList<>(List.of(JAVA, "-Ddaxload.bench.dir=" + tmp));
        c.addAll(jvmOptions);
        c.addAll(List.of("-cp", classPath, main));
        c.addAll(List.of(args));
        return c;
    }

    private static int logs;

    /** JVM logging into a file of its own, so that it cannot interleave with what the program prints. */
    private static Path log() {
        return tmp.resolve("jvm-" + ++logs + ".log");
    }

    private static String logging(Path log) {
        return "-Xlog:aot,class+load:file=" + log;
    }

    private static Path train(String name, String main, String... args) throws Exception {
        Path cache = tmp.resolve(name + ".aot");
        if (!Files.exists(cache)) {
            run(java(List.of(NATIVE_ACCESS, "-Dai.djl.offline=true", "-XX:AOTCacheOutput=" + cache), main, args));
        }
        assertTrue(Files.size(cache) > 1 << 20, "no AOT cache written");
        return cache;
    }

    @Test
    void coldOpenUsesTheTrainedCache() throws Exception {
        Path cache = train("open", "dev.daxload.samples.bench.StartupProbe", "open", "minilm");
        Path log = log();
        String printed = run(java(List.of(NATIVE_ACCESS, "-XX:AOTCache=" + cache, logging(log)),
                "dev.daxload.samples.bench.StartupProbe", "open", "minilm"));
        assertTrue(printed.contains("READY mode=open"), printed);
        String out = Files.readString(log);
        assertTrue(out.contains("Opened AOT cache " + cache), out);
        assertFalse(out.contains("[error][aot]"), out);
        assertTrue(out.contains("dev.daxload.model.ModelWeights source: shared objects file"), "loader classes come from the cache");
        assertTrue(out.contains("dev.daxload.manifest.JsonCursor source: shared objects file"), "the manifest reader comes from the cache");
    }

    /** What design.md warns of: a run whose --enable-native-access differs from the training's loses the cache. */
    @Test
    void aDifferentNativeAccessLosesTheCache() throws Exception {
        Path cache = train("open", "dev.daxload.samples.bench.StartupProbe", "open", "minilm");
        Path log = log();
        run(java(List.of("-XX:AOTCache=" + cache, logging(log)), "dev.daxload.samples.bench.StartupProbe", "open-shared", "minilm"));
        String out = Files.readString(log);
        assertTrue(out.contains("[error][aot]") || out.contains("Mismatched values"), out);
        assertFalse(out.contains("dev.daxload.model.ModelWeights source: shared objects file"), out);
    }

    /** The embedding server's training run (what bin/daxload-serve runs) makes a cache its start-up uses. */
    @Test
    void serverCacheIsUsedAtStartUp() throws Exception {
        String[] args = {"--image", tmp.resolve("minilm.daxfs").toString(), "--model", "minilm", "--port", "0", "--exit-after-start"};
        Path cache = train("server", "dev.daxload.samples.server.EmbeddingServer", args);
        Path log = log();
        String printed = run(java(List.of(NATIVE_ACCESS, "-Dai.djl.offline=true", "-XX:AOTCache=" + cache, logging(log)),
                "dev.daxload.samples.server.EmbeddingServer", args));
        assertTrue(printed.contains("start-up: first answer done"), printed);
        String out = Files.readString(log);
        assertTrue(out.contains("Opened AOT cache " + cache), out);
        assertFalse(out.contains("[error][aot]"), out);
        assertTrue(out.contains("dev.daxload.samples.server.EmbeddingServer source: shared objects file"), "server classes come from the cache");
        assertTrue(out.contains("ai.djl.repository.zoo.Criteria source: shared objects file"), "DJL's classes come from the cache");
    }

    /** The command line's training run (what bin/daxload runs) makes a cache its commands use. */
    @Test
    void cliCacheIsUsedByCommands() throws Exception {
        Path cache = train("cli", "dev.daxload.cli.StartupTraining");
        Path log = log();
        String printed = run(java(List.of(NATIVE_ACCESS, "-XX:AOTCache=" + cache, logging(log)),
                "dev.daxload.cli.Daxload", "tensors", tmp.resolve("minilm.daxfs").toString()));
        assertTrue(printed.contains("embeddings.word_embeddings.weight"), printed);
        String out = Files.readString(log);
        assertTrue(out.contains("Opened AOT cache " + cache), out);
        assertFalse(out.contains("[error][aot]"), out);
        assertTrue(out.contains("dev.daxload.cli.Daxload source: shared objects file"), out);
    }

    /** bin/daxload itself, when this checkout has built the command line (it builds it otherwise, which a test must not). */
    @Test
    void launcherUsesItsCache() throws Exception {
        Path root = Path.of("").toAbsolutePath().getParent();
        Path launcher = root.resolve("bin/daxload");
        boolean built;
        try (Stream<Path> s = Files.list(root.resolve("cli/target"))) {
            built = s.anyMatch(f -> f.getFileName().toString().matches("daxload-cli-.*(?<!-tests|-sources|-javadoc)\\.jar"))
                    && Files.isDirectory(root.resolve("cli/target/lib"));
        } catch (IOException e) {
            built = false;
        }
        Assumptions.assumeTrue(Files.isExecutable(launcher) && built, "the command line is not built in this checkout (mvn package -pl cli -am)");
        ProcessBuilder pb = new ProcessBuilder(launcher.toString(), "tensors", tmp.resolve("minilm.daxfs").toString()).redirectErrorStream(true);
        Path log = log();
        pb.environment().put("DAXLOAD_JAVA_OPTS", logging(log));
        run(List.of(launcher.toString(), "--version")); // trains the cache if it is missing or stale
        Process proc = pb.start();
        String printed = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(proc.waitFor(2, TimeUnit.MINUTES));
        assertEquals(0, proc.exitValue(), printed);
        String out = Files.readString(log);
        assertTrue(out.contains("Opened AOT cache"), out);
        assertFalse(out.contains("[error][aot]"), out);
        assertTrue(out.contains("dev.daxload.cli.Daxload source: shared objects file"), out);
    }

    /**
     * A read-only open goes through FileChannel.map and links no downcall at all; so does a copy-on-write
     * open of a file this process may write (FileChannel.map(PRIVATE)); PyTorch views, F32/I64 and BF16
     * alike, come from daxload's native views library (one JNI call), neither from DJL's binding nor from
     * libtorch's C shim over FFM. A copy-on-write open through mmap (a file the process
     * may only read; forced here with -Ddaxload.mmap.cowThroughJdk=false) links only what it calls (open,
     * mmap, close), not lseek, madvise or munmap ahead of use.
     */
    @Test
    void anOpenLinksOnlyTheDowncallsItUses() throws Exception {
        for (String mode : List.of("open-shared", "open")) {
            Path log = log();
            String printed = run(java(List.of(NATIVE_ACCESS, logging(log)), "dev.daxload.samples.bench.StartupProbe", mode, "minilm"));
            assertTrue(printed.contains("READY mode=" + mode), printed);
            assertFalse(Files.readString(log).contains("jdk.internal.foreign.abi.DowncallLinker "), mode + " linked a downcall");
        }
        // Views: the shim (Aoti, FFM) is never loaded. (The process does link mmap when it ends: closing an
        // image that native code had views of retires its range to zero pages; that is after start-up.)
        for (String model : List.of("minilm", "bf16mix")) {
            Path viewsLog = log();
            String printed = run(java(List.of(NATIVE_ACCESS, logging(viewsLog)), "dev.daxload.samples.bench.StartupProbe", "pt-views", model));
            assertTrue(printed.contains("READY mode=pt-views"), printed);
            String views = Files.readString(viewsLog);
            assertTrue(views.contains("dev.daxload.djl.NativeViews "), model + ": views came from the native library");
            assertFalse(views.contains("dev.daxload.djl.JniBlobs "), model + ": DJL's binding was not needed");
            assertFalse(views.contains("dev.daxload.djl.Aoti "), model + ": libtorch's C shim over FFM was not needed");
        }
        Path cowLog = log();
        run(java(List.of(NATIVE_ACCESS, logging(cowLog), "-Ddaxload.mmap.cowThroughJdk=false"), "dev.daxload.samples.bench.StartupProbe", "open", "minilm"));
        String cow = Files.readString(cowLog);
        assertTrue(cow.contains("jdk.internal.foreign.abi.DowncallLinker "), "copy-on-write through mmap links it");
        assertTrue(cow.contains("dev.daxload.image.internal.Mmap$MmapCall "), cow);
        assertFalse(cow.contains("dev.daxload.image.internal.Mmap$Lseek "), "lseek is for devices only");
        assertFalse(cow.contains("dev.daxload.image.internal.Mmap$Madvise "), "madvise is for populate and huge pages only");
    }
}
