package dev.daxload.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code -o} of {@code pack} and {@code pack-model} as a user types it: {@code -} and
 * {@code /dev/stdout} stream through a real pipe to another process, a symlink stays a symlink, a
 * directory is refused before any source is read.
 */
class OutputPathCliTest {
    @TempDir Path tmp;
    Path tree;
    Path weights;

    @BeforeEach
    void sources() throws Exception {
        tree = Files.createDirectories(tmp.resolve("tree"));
        Files.writeString(tree.resolve("a.txt"), "alpha\n");
        weights = safetensors(tmp.resolve("model.safetensors"));
    }

    /** A one-tensor safetensors file: F32 [2] = {1, 2}. */
    static Path safetensors(Path at) throws Exception {
        byte[] header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}".getBytes(StandardCharsets.UTF_8);
        var b = java.nio.ByteBuffer.allocate(8 + header.length + 8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header).putFloat(1f).putFloat(2f);
        return Files.write(at, b.array());
    }

    /** The CLI in a child JVM whose standard output is a pipe read here. */
    record Piped(int code, byte[] out, String err) {}

    static Piped piped(String... args) throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), Daxload.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).start();
        byte[] out = p.getInputStream().readAllBytes();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        return new Piped(p.exitValue(), out, err);
    }

    /**
     * {@code daxload place}: an image copied to a file (replacing it whole) and through a real pipe; a file that
     * is no image fails with exit 1 and a message naming the file and the broken rule, the target untouched.
     */
    @Test
    void placeCopiesAnImageWholeAndRefusesOneThatIsNot() throws Exception {
        Path image = tmp.resolve("model.daxfs");
        assertEquals(0, DaxloadCliTest.run("pack-model", "-q", "--name", "m", weights.toString(), "-o", image.toString()).code());
        Path target = tmp.resolve("placed.daxfs");
        Files.writeString(target, "old");
        Piped ok = piped("place", image.toString(), "-o", target.toString());
        assertEquals(0, ok.code(), ok.err());
        assertArrayEquals(Files.readAllBytes(image), Files.readAllBytes(target));
        assertTrue(ok.err().startsWith(target + ": "), ok.err());
        Piped streamed = piped("place", "-q", image.toString(), "-o", "-");
        assertEquals(0, streamed.code(), streamed.err());
        assertArrayEquals(Files.readAllBytes(image), streamed.out());

        Path notAnImage = Files.writeString(tmp.resolve("notes.txt"), "not an image");
        Piped bad = piped("place", notAnImage.toString(), "-o", target.toString());
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains(notAnImage.toString()) && bad.err().contains("[image.size]"), bad.err());
        assertArrayEquals(Files.readAllBytes(image), Files.readAllBytes(target), "the target keeps the image placed before");
    }

    @Test
    void dashStreamsTheImageToStandardOutput() throws Exception {
        Path file = tmp.resolve("file.daxfs");
        assertEquals(0, DaxloadCliTest.run("pack-model", "-q", "--name", "m", weights.toString(), "-o", file.toString()).code());
        for (String out : List.of("-", "/dev/stdout")) {
            Piped r = piped("pack-model", "--name", "m", weights.toString(), "-o", out);
            assertEquals(0, r.code(), r.err());
            assertArrayEquals(Files.readAllBytes(file), r.out(), out + ": the same bytes as a file, through the pipe");
            assertFalse(Files.exists(Path.of("-")), "no file named -");
        }
        assertTrue(Files.isSymbolicLink(Path.of("/dev/stdout")), "/dev/stdout is still a symlink");

        Path packed = tmp.resolve("tree.daxfs");
        assertEquals(0, DaxloadCliTest.run("pack", "-q", tree.toString(), "-o", packed.toString()).code());
        Piped r = piped("pack", "-q", tree.toString(), "-o", "-");
        assertEquals(0, r.code(), r.err());
        assertArrayEquals(Files.readAllBytes(packed), r.out());
    }

    @Test
    void aSymlinkOutputReplacesTheFileItNames() throws Exception {
        Path srv = Files.createDirectories(tmp.resolve("srv"));
        Files.writeString(srv.resolve("v1.daxfs"), "old");
        Path current = Files.createSymbolicLink(srv.resolve("current.daxfs"), Path.of("v1.daxfs"));
        DaxloadCliTest.Run r = DaxloadCliTest.run("pack-model", "-q", "--name", "m", weights.toString(), "-o", current.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.isSymbolicLink(current));
        assertEquals(0, DaxloadCliTest.run("verify", srv.resolve("v1.daxfs").toString()).code());
        r = DaxloadCliTest.run("pack", "-q", tree.toString(), "-o", current.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.isSymbolicLink(current));
        assertEquals("alpha\n", new String(piped("cat", srv.resolve("v1.daxfs").toString(), "a.txt").out(), StandardCharsets.UTF_8));
    }

    /**
     * {@code daxload pack} in a child JVM, caught in the middle of writing (its unnamed O_TMPFILE image
     * open in /proc/PID/fd), stopped there, then killed with SIGKILL: at no point does the output
     * directory hold anything.
     */
    @Test
    void killedMidPackNothingIsLeftBehind() throws Exception {
        Path big = Files.createDirectories(tmp.resolve("big"));
        byte[] chunk = new byte[1 << 20];
        new java.util.Random(7).nextBytes(chunk);
        try (var out = Files.newOutputStream(big.resolve("weights.bin"))) {
            for (int i = 0; i < 96; i++) {
                out.write(chunk);
            }
        }
        Path outDir = Files.createDirectories(tmp.resolve("out"));
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                Daxload.class.getName(), "pack", "-q", big.toString(), "-o", outDir.resolve("img.daxfs").toString())
                .redirectErrorStream(true).start();
        Path fds = Path.of("/proc/" + p.pid() + "/fd");
        String unnamed = outDir.toRealPath() + "/#";
        boolean caught = false;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!caught && p.isAlive() && System.nanoTime() < deadline) {
            try (var s = Files.list(fds)) {
                for (Path fd : s.toList()) {
                    try {
                        if (Files.readSymbolicLink(fd).toString().startsWith(unnamed)) {
                            caught = true;
                        }
                    } catch (java.io.IOException gone) {
                        // the descriptor closed between list and readlink
                    }
                }
            } catch (java.io.IOException exited) {
                break;
            }
        }
        assertTrue(caught, "the pack was not caught mid-write (it ended first, or never opened an unnamed file)");
        assertEquals(0, new ProcessBuilder("kill", "-STOP", Long.toString(p.pid())).start().waitFor());
        try (var s = Files.list(outDir)) {
            assertEquals(List.of(), s.toList(), "mid-write, the image has no name yet");
        }
        p.destroyForcibly();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(137, p.exitValue());
        try (var s = Files.list(outDir)) {
            assertEquals(List.of(), s.toList(), "after SIGKILL, nothing beside the target");
        }
    }

    @Test
    void aCharacterDeviceMadeWithMknodIsWrittenInPlace() throws Exception {
        Path nul = tmp.resolve("null");
        Process mk = new ProcessBuilder("mknod", nul.toString(), "c", "1", "3").redirectErrorStream(true).start();
        mk.getInputStream().readAllBytes();
        org.junit.jupiter.api.Assumptions.assumeTrue(mk.waitFor() == 0, "mknod is not permitted here (needs CAP_MKNOD)");
        DaxloadCliTest.Run r = DaxloadCliTest.run("pack-model", "-q", "--name", "m", weights.toString(), "-o", nul.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(0020000, (Integer) Files.getAttribute(nul, "unix:mode") & 0170000, "still a character device");
        Path full = tmp.resolve("full");
        assertEquals(0, new ProcessBuilder("mknod", full.toString(), "c", "1", "7").start().waitFor());
        r = DaxloadCliTest.run("pack", "-q", tree.toString(), "-o", full.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains(full + ": writing the image failed") && r.err().contains("No space left on device"), r.err());
        assertEquals(0020000, (Integer) Files.getAttribute(full, "unix:mode") & 0170000);
    }

    @Test
    void aDirectoryIsRefusedBeforeAnySourceIsRead() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("images"));
        // the source does not exist: the output is what the message is about, so it was checked first
        DaxloadCliTest.Run r = DaxloadCliTest.run("pack-model", "--name", "m", tmp.resolve("missing.safetensors").toString(),
                "-o", dir.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains(dir + ": is a directory"), r.err());
        r = DaxloadCliTest.run("pack", tmp.resolve("missing").toString(), "-o", dir.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains(dir + ": is a directory"), r.err());
        try (var s = Files.list(dir)) {
            assertEquals(0, s.count());
        }
    }
}
