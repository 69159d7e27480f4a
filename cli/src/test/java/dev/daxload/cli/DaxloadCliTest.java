package dev.daxload.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The command line as a user drives it: outputs, exit codes, messages on stderr. */
class DaxloadCliTest {
    @TempDir Path tmp;
    Path src;
    Path image;

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        CommandLine cl = Daxload.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @BeforeEach
    void tree() throws Exception {
        src = Files.createDirectories(tmp.resolve("src"));
        Files.writeString(src.resolve("a.txt"), "alpha\n");
        Files.createDirectories(src.resolve("d/e"));
        Files.write(src.resolve("d/e/blob"), new byte[10000]);
        Files.createSymbolicLink(src.resolve("d/to-a"), Path.of("../a.txt"));
        Files.createLink(src.resolve("d/a-again"), src.resolve("a.txt"));
        image = tmp.resolve("img.daxfs");
        Run r = run("pack", src.toString(), "-o", image.toString(), "-q");
        assertEquals(0, r.code, r.err);
    }

    @Test
    void lsListsNamesAndLongFormat() {
        Run r = run("ls", image.toString());
        assertEquals(0, r.code, r.err);
        assertEquals(List.of("a.txt", "d"), r.out.lines().toList());
        Run l = run("ls", "-l", image.toString(), "/d");
        assertEquals(0, l.code, l.err);
        List<String> lines = l.out.lines().toList();
        assertEquals(3, lines.size(), l.out);
        assertTrue(lines.get(0).matches("-rw.* 2 .* 6 a-again"), lines.get(0));
        assertTrue(lines.get(1).startsWith("drwx"), lines.get(1));
        assertTrue(lines.get(2).startsWith("lrwxrwxrwx") && lines.get(2).endsWith("to-a -> ../a.txt"), lines.get(2));
    }

    @Test
    void lsRecursiveShowsEveryDirectory() {
        Run r = run("ls", "-R", image.toString());
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.contains("/d:") && r.out.contains("/d/e:") && r.out.contains("blob"), r.out);
    }

    @Test
    void verifyAcceptsWhatPackWrote() {
        Run r = run("verify", image.toString());
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.contains("OK"), r.out);
    }

    @Test
    void verifyRejectsACorruptImageNamingTheRule() throws Exception {
        byte[] bytes = Files.readAllBytes(image);
        bytes[4096] ^= 0x55; // base superblock magic
        Path bad = tmp.resolve("bad.daxfs");
        Files.write(bad, bytes);
        Run r = run("verify", bad.toString());
        assertEquals(1, r.code);
        assertTrue(r.err.contains("bad.daxfs") && r.err.contains("base.magic") && r.err.contains("offset 4096"), r.err);
        Run ls = run("ls", bad.toString());
        assertEquals(1, ls.code);
        assertTrue(ls.err.startsWith("daxload ls: ") && ls.err.contains("bad.daxfs"), ls.err);
    }

    @Test
    void inspectShowsFieldsAndCounts() {
        Run r = run("inspect", image.toString());
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.contains("inode_count  6"), r.out);
        assertTrue(r.out.contains("files        2"), r.out);
        assertTrue(r.out.contains("hard links   1"), r.out);
        assertTrue(r.out.contains("symlinks     1"), r.out);
    }

    @Test
    void extractRestoresTheTree() throws Exception {
        Path out = tmp.resolve("out");
        Run r = run("extract", image.toString(), out.toString(), "-q");
        assertEquals(0, r.code, r.err);
        assertEquals("alpha\n", Files.readString(out.resolve("a.txt")));
        assertEquals(Path.of("../a.txt"), Files.readSymbolicLink(out.resolve("d/to-a")));
        assertEquals(Files.getAttribute(out.resolve("a.txt"), "unix:ino"), Files.getAttribute(out.resolve("d/a-again"), "unix:ino"));
        assertArrayEquals(new byte[10000], Files.readAllBytes(out.resolve("d/e/blob")));
    }

    @Test
    void extractNeverWritesThroughASymlinkInTheTarget() throws Exception {
        Path out = Files.createDirectories(tmp.resolve("out"));
        Path elsewhere = Files.createDirectories(tmp.resolve("elsewhere"));
        Files.createSymbolicLink(out.resolve("d"), elsewhere); // planted before extraction
        Run r = run("extract", image.toString(), out.toString(), "-q");
        assertEquals(1, r.code);
        assertTrue(r.err.contains("refusing to write through it") || r.err.contains("already exists"), r.err);
        try (var s = Files.list(elsewhere)) {
            assertEquals(0, s.count(), "nothing may land outside the target directory");
        }
    }

    @Test
    void catWritesBytesToStdout() throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        Path err = tmp.resolve("cat.err");
        // stderr to a file, so a chatty child never blocks on a full pipe; a bounded wait, so a hang fails
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                Daxload.class.getName(), "cat", image.toString(), "d/to-a")
                .redirectError(err.toFile()).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("daxload cat did not exit within 60 s");
        }
        assertEquals(0, p.exitValue(), Files.readString(err));
        assertEquals("alpha\n", new String(out, StandardCharsets.UTF_8));
    }

    @Test
    void usageErrorsExitTwo() {
        assertEquals(2, run("pack").code);
        assertEquals(2, run("ls").code);
        assertEquals(2, run("frobnicate").code);
        assertEquals(2, run("tensors", "--sort", "colour", image.toString()).code);
        for (String align : List.of("3K", "zz", "1024", "0")) {
            Run r = run("pack", src.toString(), "-o", tmp.resolve("x").toString(), "--align", align);
            assertEquals(2, r.code, "--align " + align + ": " + r.err);
            assertTrue(r.err.contains("'" + align + "'"), r.err);
            assertFalse(Files.exists(tmp.resolve("x")), "bad usage writes nothing");
        }
    }
    @Test
    void missingFilesAreNamed() {
        Run r = run("cat", image.toString(), "nope");
        assertEquals(1, r.code);
        assertTrue(r.err.contains("nope") && r.err.contains("no such file"), r.err);
    }

    @Test
    void everyCommandHasHelp() {
        // Every subcommand the command line has, nested ones included (gpu probe, ...), so a new
        // command without --help fails here without anyone adding it to a list.
        List<String> failures = new ArrayList<>();
        List<String> seen = new ArrayList<>();
        checkHelp(Daxload.commandLine(), List.of(), failures, seen);
        assertTrue(seen.size() >= 17, "only " + seen + " found: the walk over subcommands is broken");
        assertTrue(seen.containsAll(List.of("pack", "ls", "cat", "extract", "inspect", "verify", "pack-model", "prepack",
                "tensors", "lookup", "mount", "umount", "gpu", "gpu probe", "gpu load", "gpu attach", "gpu bench", "gpu views")), seen.toString());
        assertEquals(List.of(), failures);
    }

    private static void checkHelp(CommandLine parent, List<String> path, List<String> failures, List<String> seen) {
        for (var e : parent.getSubcommands().entrySet()) {
            if (e.getValue().getCommandSpec().userObject() instanceof CommandLine.HelpCommand) {
                continue;
            }
            List<String> here = new ArrayList<>(path);
            here.add(e.getKey());
            String name = String.join(" ", here);
            seen.add(name);
            List<String> args = new ArrayList<>(here);
            args.add("--help");
            Run r = run(args.toArray(String[]::new));
            if (r.code != 0 || !r.out.contains("Usage: daxload " + name) || !r.err.isEmpty()) {
                failures.add(name + " (exit " + r.code + ")");
            }
            checkHelp(e.getValue(), here, failures, seen);
        }
    }
}
