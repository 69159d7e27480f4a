package dev.daxload.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import dev.daxload.cli.JsonFieldsDoc;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The release archive as a user gets it: unpacked to a temporary directory and run through a symlink on
 * a PATH that holds no {@code java}, with {@code JAVA_HOME} unset, from another directory: {@code --version},
 * {@code pack-model} of the real all-MiniLM-L6-v2, then {@code tensors}, {@code inspect} and {@code verify}
 * with {@code --json}, each document checked against docs/cli-json.md.
 */
class DistArchiveIT {
    static final Path ARCHIVE = Path.of(System.getProperty("daxload.archive", "target/none.tar.gz"));
    static final Path MODEL = Path.of(System.getProperty("daxload.testModels", "../packager/target/models"), "all-minilm-l6-v2");
    /** What the launcher runs besides the JVM: all the PATH the test gives it. */
    static final List<String> TOOLS = List.of("dirname", "readlink", "sort", "paste");

    @TempDir
    static Path tmp;
    static Path unpacked;
    static Path pathDir;
    static Path work;

    record Run(int code, String out, String err) {}

    @BeforeAll
    static void unpack() throws Exception {
        assertTrue(Files.isRegularFile(ARCHIVE), ARCHIVE + " was not built (mvn package makes it)");
        Path into = Files.createDirectories(tmp.resolve("opt"));
        Process tar = new ProcessBuilder("tar", "xzf", ARCHIVE.toAbsolutePath().toString(), "-C", into.toString())
                .inheritIO().start();
        assertEquals(0, tar.waitFor());
        try (Stream<Path> s = Files.list(into)) {
            unpacked = s.findFirst().orElseThrow();
        }
        assertEquals(ARCHIVE.getFileName().toString().replace(".tar.gz", ""), unpacked.getFileName().toString());
        pathDir = Files.createDirectories(tmp.resolve("path"));
        Files.createSymbolicLink(pathDir.resolve("daxload"), unpacked.resolve("bin/daxload"));
        for (String tool : TOOLS) {
            Path real = Stream.of("/usr/bin", "/bin").map(d -> Path.of(d, tool)).filter(Files::isExecutable).findFirst().orElseThrow();
            Files.createSymbolicLink(pathDir.resolve(tool), real);
        }
        work = Files.createDirectories(tmp.resolve("work"));
    }

    /** Runs daxload by name from PATH, as a shell would find it, in a directory of its own. */
    static Run daxload(Map<String, String> extraEnv, String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(pathDir.resolve("daxload").toString());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(work.toFile());
        Map<String, String> env = pb.environment();
        env.keySet().removeIf(k -> k.equals("JAVA_HOME") || k.equals("JDK_HOME") || k.equals("DAXLOAD_JAVA_HOME")
                || k.startsWith("JAVA_TOOL") || k.equals("_JAVA_OPTIONS") || k.equals("CLASSPATH"));
        env.put("PATH", pathDir.toString());
        env.putAll(extraEnv);
        Path out = Files.createTempFile(tmp, "out", ".txt");
        Path err = Files.createTempFile(tmp, "err", ".txt");
        Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "daxload " + String.join(" ", args) + " did not finish");
        return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    }

    static Run daxload(String... args) throws Exception {
        return daxload(Map.of(), args);
    }

    @Test
    void theArchiveHoldsWhatItShould() throws IOException {
        for (String f : List.of("bin/daxload", "runtime/bin/java", "lib/daxload.aot", "LICENSE", "THIRD-PARTY.txt",
                "share/bash-completion/completions/daxload", "share/man/adoc/daxload.adoc", "share/man/man1/daxload.1", "share/man/man1/daxload-pack-model.1")) {
            assertTrue(Files.isRegularFile(unpacked.resolve(f)), f);
        }
        assertTrue(Files.isExecutable(unpacked.resolve("bin/daxload")));
        assertFalse(Files.exists(unpacked.resolve("runtime/jmods")), "a runtime, not a JDK");
        assertFalse(Files.exists(unpacked.resolve("runtime/bin/javac")), "a runtime, not a JDK");
        String notices = Files.readString(unpacked.resolve("THIRD-PARTY.txt"));
        assertTrue(notices.contains("picocli") && notices.contains("onnxruntime"), notices);
        assertTrue(Files.readString(unpacked.resolve("share/bash-completion/completions/daxload")).contains("pack-model"));
        String man = Files.readString(unpacked.resolve("share/man/man1/daxload-ls.1"));
        assertTrue(man.contains(".TH \"DAXLOAD\\-LS\"") && man.contains("json"), "roff, made from picocli's AsciiDoc: " + man);
    }

    @Test
    void theDebHoldsTheSameFilesWhereTheMachineHasDpkgDeb() throws Exception {
        Path dpkgDeb = Path.of("/usr/bin/dpkg-deb");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(dpkgDeb), "no dpkg-deb: no .deb is made");
        Path deb;
        try (Stream<Path> s = Files.list(ARCHIVE.getParent())) {
            deb = s.filter(p -> p.getFileName().toString().matches("daxload_.*_amd64\\.deb")).findFirst().orElseThrow();
        }
        Process p = new ProcessBuilder(dpkgDeb.toString(), "--contents", deb.toString()).redirectErrorStream(true).start();
        String listing = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), listing);
        for (String f : List.of("./usr/bin/daxload -> /opt/daxload/bin/daxload", "./opt/daxload/runtime/bin/java",
                "./opt/daxload/lib/daxload.aot", "./opt/daxload/LICENSE", "./opt/daxload/THIRD-PARTY.txt",
                "./usr/share/man/man1/daxload.1 -> /opt/daxload/share/man/man1/daxload.1")) {
            assertTrue(listing.contains(f), f + " in " + deb);
        }
        assertTrue(listing.lines().anyMatch(l -> l.startsWith("-rwxr-xr-x root/root") && l.endsWith("./opt/daxload/bin/daxload")), listing);
    }

    @Test
    void runsWithoutAJdkFromAnywhereThroughASymlink() throws Exception {
        assertFalse(Files.exists(pathDir.resolve("java")));
        Run v = daxload("--version");
        assertEquals(0, v.code(), v.err());
        assertEquals("", v.err(), "nothing on stderr");
        assertTrue(Pattern.compile("(?m)^daxload \\d+\\.\\d+\\.\\d+").matcher(v.out()).find(), v.out());
        assertTrue(Pattern.compile("(?m)^commit +[0-9a-f]{12}").matcher(v.out()).find(), "a real commit: " + v.out());
        assertTrue(Pattern.compile("(?m)^built +\\d{4}-\\d\\d-\\d\\dT").matcher(v.out()).find(), v.out());
        assertTrue(v.out().contains(unpacked.resolve("runtime").toRealPath().toString()), "the archive's runtime: " + v.out());
        assertTrue(v.out().contains("DAXFS 5") && v.out().contains("daxload-model/1"), v.out());

        Run aot = daxload(Map.of("DAXLOAD_JAVA_OPTS", "-Xlog:aot"), "--version");
        assertTrue(aot.out().contains("Using AOT-linked classes: true"), "the AOT cache made at build time is used: " + aot.out());

        JsonFieldsDoc doc = JsonFieldsDoc.load();
        Path image = work.resolve("minilm.daxfs");
        Run pack = daxload("pack-model", "--name", "minilm", MODEL.resolve("all-minilm-l6-v2.onnx").toAbsolutePath().toString(),
                "--file", "tokenizer.json=" + MODEL.resolve("all-minilm-l6-v2-tokenizer.json").toAbsolutePath(), "-o", "minilm.daxfs");
        assertEquals(0, pack.code(), pack.err());
        assertFalse(pack.err().contains("WARN"), pack.err());
        assertTrue(Files.size(image) > 20_000_000, "all of MiniLM's weights");

        Run t = daxload("tensors", "--json", "minilm.daxfs");
        assertEquals(0, t.code(), t.err());
        int tensors = doc.check("tensors", t.out()).getAsJsonArray("tensors").size();
        assertTrue(tensors > 50, t.out());

        Run i = daxload("inspect", "--json", "minilm.daxfs");
        assertEquals(0, i.code(), i.err());
        JsonObject m = doc.check("inspect", i.out()).getAsJsonArray("models").get(0).getAsJsonObject();
        assertEquals("minilm", m.get("name").getAsString());
        assertEquals(tensors, m.get("tensors").getAsInt());

        Run ver = daxload("verify", "--json", "minilm.daxfs");
        assertEquals(0, ver.code(), ver.err());
        JsonObject vo = doc.check("verify", ver.out());
        assertTrue(vo.get("sound").getAsBoolean());
        assertEquals(tensors, vo.get("tensorsChecked").getAsInt());
        for (Run r : List.of(t, i, ver)) {
            assertEquals("", r.err(), "a clean console: nothing on stderr");
        }

        // ONNX Runtime from the archive's jar, which keeps the linux-x64 native library only
        Run prepack = daxload("prepack", "minilm.daxfs", "-o", "minilm-ort.daxfs");
        assertEquals(0, prepack.code(), prepack.err());
        // its one summary line goes to stderr, as pack's do; ONNX Runtime's own log ("[W:onnxruntime:...") does not
        assertEquals(1, prepack.err().lines().count(), prepack.err());
        assertTrue(prepack.err().startsWith("minilm-ort.daxfs: ONNX Runtime forms [minilm/ort/"), prepack.err());

        Run dir = daxload("ls", work.toString());
        assertEquals(1, dir.code());
        assertEquals("daxload ls: " + work + ": is a directory, not an image file", dir.err().strip());
    }
}
