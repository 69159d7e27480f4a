package dev.daxload.cli;

import static dev.daxload.cli.DaxloadCliTest.run;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.cli.DaxloadCliTest.Run;
import dev.daxload.image.DaxEntry;
import dev.daxload.image.DaxImage;
import dev.daxload.image.DaxInode;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.HostPaths;
import dev.daxload.packager.image.ImageTree;
import dev.daxload.packager.image.ImageWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #12: what {@code daxload pack} keeps of a tree that Linux allows and Java strings do not:
 * names that are not UTF-8, one symlink under two names, paths longer than PATH_MAX. Each case goes
 * pack, {@code verify}, {@code ls}, {@code extract}, and the extracted tree is compared byte for byte
 * with the source (names, types, contents, symlink targets, inode sharing).
 *
 * <p>Plain JUnit on Linux with no host-only assumption, so a guest under QEMU can run it as is and
 * mount the image it packs.
 */
public class PackFidelityTest {
    @TempDir Path tmp;

    static byte[] bytes(String hex) {
        return HexFormat.of().parseHex(hex);
    }

    /** {@code bad\xff\xfename}: the issue's name. */
    static final byte[] BAD = bytes("626164" + "fffe" + "6e616d65");
    /** A directory name of Latin-1 bytes ({@code caf\xe9}), a lone continuation byte in a file name. */
    static final byte[] LATIN1_DIR = bytes("636166e9");
    static final byte[] LONE = bytes("80");
    /** A name that is valid UTF-8 but for an encoded surrogate (CESU), which Java would reject. */
    static final byte[] CESU = bytes("78eda080");
    /** A symlink target with bytes that are not UTF-8, a doubled and a trailing slash. */
    static final byte[] ODD_TARGET = bytes("2e2e2f2f" + "636166e9" + "2f");

    Path source() throws Exception {
        return writeTree(Files.createDirectories(tmp.resolve("src")));
    }

    /**
     * Writes the tree of the issue, and more of the same kind, into {@code src} (an existing, empty
     * directory): names that are not UTF-8, a symlink with two names, a target with odd bytes. A guest
     * test can pack it, mount the image and compare {@link #snapshot} of the mount with the source's.
     */
    public static Path writeTree(Path src) throws Exception {
        Files.writeString(HostPaths.resolve(src, BAD), "bad name\n");
        Path latin = Files.createDirectory(HostPaths.resolve(src, LATIN1_DIR));
        Files.write(HostPaths.resolve(latin, LONE), new byte[] {1, 2, 3});
        Files.writeString(HostPaths.resolve(latin, CESU), "cesu\n");
        Files.writeString(latin.resolve("back\\slash"), "b\n");
        Files.writeString(src.resolve("target"), "t\n");
        Path sym = src.resolve("sym");
        Files.createSymbolicLink(sym, Path.of("target"));
        Files.createLink(src.resolve("sym2"), sym); // link(2): a second name of the symlink inode itself
        symlinkBytes(ODD_TARGET, src.resolve("odd")); // in an ASCII directory: ProcessBuilder takes strings
        assertEquals(2, (Integer) Files.getAttribute(sym, "unix:nlink", LinkOption.NOFOLLOW_LINKS), "the fixture has a hard-linked symlink");
        return src;
    }

    /** {@code ln -s} with raw bytes, which the JDK's Path API would normalize away. */
    static void symlinkBytes(byte[] target, Path link) throws Exception {
        Path helper = link.resolveSibling("target-bytes");
        Files.write(helper, Arrays.copyOf(target, target.length - 1)); // the script adds the trailing slash
        Process p = new ProcessBuilder("sh", "-c", "ln -s -- \"$(cat \"$1\")/\" \"$2\"", "sh", helper.toString(), link.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        Files.delete(helper);
        // $(...) would drop a trailing newline, not a slash; the slash is kept out of the file only to
        // show that the script adds it.
        assertArrayEquals(target, readlink(link));
    }

    static byte[] readlink(Path link) throws Exception {
        Process p = new ProcessBuilder("readlink", "-n", "--", link.toString()).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertEquals(0, p.waitFor());
        return out;
    }

    @Test
    void namesThatAreNotUtf8AndHardLinkedSymlinksSurvivePackLsVerifyAndExtract() throws Exception {
        Path src = source();
        // The name of the source is ASCII, so the CLI's arguments carry it whatever the JVM's locale.
        Path image = tmp.resolve("fidelity.daxfs");
        Run pack = run("pack", src.toString(), "-o", image.toString(), "-q");
        assertEquals(0, pack.code(), pack.err());

        Run verify = run("verify", image.toString());
        assertEquals(0, verify.code(), verify.out() + verify.err());
        assertFalse((verify.out() + verify.err()).contains("\uFFFD"), verify.out() + verify.err());

        Run ls = run("ls", image.toString());
        assertEquals(0, ls.code(), ls.err());
        assertEquals(List.of("bad\\377\\376name", "caf\\351", "odd", "sym", "sym2", "target"), ls.out().lines().toList());
        Run lsl = run("ls", "-l", "-R", image.toString());
        assertEquals(0, lsl.code(), lsl.err());
        List<String> long1 = lsl.out().lines().toList();
        assertTrue(long1.stream().anyMatch(l -> l.startsWith("lrwxrwxrwx   2 ") && l.endsWith(" sym -> target")), lsl.out());
        assertTrue(long1.stream().anyMatch(l -> l.startsWith("lrwxrwxrwx   2 ") && l.endsWith(" sym2 -> target")), lsl.out());
        assertTrue(long1.contains("/caf\\351:"), lsl.out());
        assertTrue(long1.stream().anyMatch(l -> l.endsWith(" \\200")), lsl.out());
        assertTrue(long1.stream().anyMatch(l -> l.endsWith(" x\\355\\240\\200")), lsl.out());
        assertTrue(long1.stream().anyMatch(l -> l.endsWith(" back\\\\slash")), lsl.out());
        assertTrue(long1.stream().anyMatch(l -> l.endsWith(" odd -> ..//caf\\351/")), lsl.out());

        try (DaxImage img = DaxImage.open(image)) {
            Map<String, DaxEntry> root = new TreeMap<>();
            for (DaxEntry e : img.list(img.root())) {
                root.put(HexFormat.of().formatHex(e.nameBytes()), e);
            }
            DaxEntry bad = root.get(HexFormat.of().formatHex(BAD));
            assertNotNull(bad, "the name is stored as its bytes: " + root.keySet());
            assertTrue(bad.utf8Name().isEmpty(), "no string is made up for a name that is not UTF-8");
            assertEquals("bad name\n", new String(img.content(bad.inode()).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
            assertEquals(bad.inode(), img.lookup(bad.name()).orElseThrow(), "the entry's name() looks it up");
            assertEquals("sym", root.get(HexFormat.of().formatHex("sym".getBytes(StandardCharsets.US_ASCII))).utf8Name().orElseThrow());
            DaxInode sym = img.lookup("sym").orElseThrow();
            assertEquals(sym.ino(), img.lookup("sym2").orElseThrow().ino(), "one symlink inode under two names");
            assertEquals(2, sym.nlink());
            DaxInode odd = img.lookup("odd").orElseThrow();
            assertTrue(img.lookup(bad(LATIN1_DIR) + "/" + bad(LONE)).orElseThrow().isRegularFile(), "decoded names look up");
            assertArrayEquals(ODD_TARGET, img.readSymlinkBytes(odd));
        }

        Path out = tmp.resolve("out");
        Run extract = run("extract", image.toString(), out.toString(), "-q");
        assertEquals(0, extract.code(), extract.err());
        assertEquals(snapshot(src), snapshot(out), "extract gives back the source byte for byte");
        assertEquals(Files.getAttribute(out.resolve("sym"), "unix:ino", LinkOption.NOFOLLOW_LINKS),
                Files.getAttribute(out.resolve("sym2"), "unix:ino", LinkOption.NOFOLLOW_LINKS), "extract keeps one symlink inode");
        assertEquals(2, (Integer) Files.getAttribute(out.resolve("sym"), "unix:nlink", LinkOption.NOFOLLOW_LINKS));
    }

    /**
     * The same round trip with the command line in the C locale, where the JVM's file name encoding is
     * ASCII and a {@code Path}'s string mangles every name that is not (a guest system often has no
     * locale at all): names still come through as their bytes, UTF-8 ones included.
     */
    @Test
    void theRoundTripHoldsInTheCLocaleToo() throws Exception {
        Path src = source();
        Files.writeString(HostPaths.resolve(src, "café-😀".getBytes(StandardCharsets.UTF_8)), "a UTF-8 name\n");
        Path image = tmp.resolve("c-locale.daxfs");
        Path out = tmp.resolve("c-out");
        String[][] runs = {{"pack", src.toString(), "-o", image.toString(), "-q"}, {"verify", image.toString()},
            {"extract", image.toString(), out.toString(), "-q"}};
        for (String[] args : runs) {
            List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                    "-XshowSettings:properties", "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                    "dev.daxload.cli.Daxload"));
            cmd.addAll(List.of(args));
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
            pb.environment().keySet().removeIf(k -> k.startsWith("LC_") || k.equals("LANG") || k.equals("LANGUAGE"));
            pb.environment().put("LC_ALL", "C");
            Process p = pb.start();
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "daxload " + args[0] + " hung");
            assertEquals(0, p.exitValue(), args[0] + ": " + output);
            assertTrue(output.contains("sun.jnu.encoding = ANSI_X3.4-1968"), "the child runs in the C locale: "
                    + output.lines().filter(l -> l.contains("jnu")).toList());
        }
        assertEquals(snapshot(src), snapshot(out), "extract in the C locale gives back the source byte for byte");
    }

    private static String bad(byte[] name) {
        return dev.daxload.image.DaxNames.decode(name);
    }

    /**
     * Every path under {@code root} as hex bytes, with its type, mode, content or symlink target (hex
     * bytes, through readlink(1)) and link count: two trees with equal snapshots hold the same names,
     * bytes and links.
     */
    public static List<String> snapshot(Path root) throws Exception {
        List<String> lines = new ArrayList<>();
        walk(root, root, lines);
        lines.sort(null);
        return lines;
    }

    private static void walk(Path root, Path dir, List<String> lines) throws Exception {
        List<Path> children = new ArrayList<>();
        try (var ds = Files.newDirectoryStream(dir)) {
            ds.forEach(children::add);
        }
        byte[] rootBytes = HostPaths.absoluteBytes(root);
        for (Path c : children) {
            byte[] abs = HostPaths.absoluteBytes(c);
            String rel = HexFormat.of().formatHex(Arrays.copyOfRange(abs, rootBytes.length, abs.length));
            Map<String, Object> a = Files.readAttributes(c, "unix:mode,ino,nlink", LinkOption.NOFOLLOW_LINKS);
            String link = "";
            if ((Integer) a.get("nlink") > 1 && !Files.isDirectory(c, LinkOption.NOFOLLOW_LINKS)) {
                link = " links=" + (Integer) a.get("nlink");
            }
            if (Files.isSymbolicLink(c)) {
                lines.add(rel + " symlink " + HexFormat.of().formatHex(readlink(c)) + link);
            } else if (Files.isDirectory(c, LinkOption.NOFOLLOW_LINKS)) {
                lines.add(rel + " dir " + Integer.toOctalString((Integer) a.get("mode")));
                walk(root, c, lines);
            } else {
                lines.add(rel + " file " + Integer.toOctalString((Integer) a.get("mode")) + " "
                        + HexFormat.of().formatHex(Files.readAllBytes(c)) + link);
            }
        }
    }

    /** A chain of 255-byte directory names deeper than PATH_MAX, made with relative mkdir/cd -P as tools do. */
    static Path deepSource(Path tmp, int levels) throws Exception {
        Path src = Files.createDirectories(tmp.resolve("deep"));
        String name = "n".repeat(255);
        Process p = new ProcessBuilder("sh", "-c",
                "cd \"$1\" && i=0 && while [ $i -lt " + levels + " ]; do mkdir \"$2\" && cd -P \"$2\" || exit 1; i=$((i+1)); done && echo deep > file",
                "sh", src.toString(), name).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        return src;
    }

    /** {@code rm -rf}: the JDK's path-based delete (and so {@code @TempDir}) cannot reach below PATH_MAX. */
    static void removeDeep(Path dir) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("rm", "-rf", "--", dir.toString()).inheritIO().start();
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("rm -rf " + dir + " failed");
        }
    }

    @Test
    void aSourcePathOverPathMaxIsRefusedNamingThePathAndTheLimit() throws Exception {
        Path src = deepSource(tmp, 17); // 17 x 256 bytes: about 4,350 bytes below the source
        try {
            Path image = tmp.resolve("deep.daxfs");
            Run pack = run("pack", src.toString(), "-o", image.toString(), "-q");
            assertEquals(1, pack.code(), pack.out() + pack.err());
            assertTrue(pack.err().contains(src + "/" + "n".repeat(255) + "/"), "names the path: " + pack.err());
            assertTrue(pack.err().contains("at most 4095 bytes"), "names the limit: " + pack.err());
            assertFalse(pack.err().contains("\tat "), "no stack trace: " + pack.err());
            assertFalse(Files.exists(image), "no image is left behind");
        } finally {
            removeDeep(src);
        }
    }

    @Test
    void anExtractPathOverPathMaxIsRefusedNamingThePathAndTheLimit() throws Exception {
        // In the image the deepest path is 15 x 256 + 4 = 3,844 bytes, which Linux opens; under a
        // directory of ~300 bytes it is not.
        ImageTree tree = new ImageTree();
        ImageTree.Directory d = tree.root();
        for (int i = 0; i < 15; i++) {
            d = d.directory("m".repeat(255), new ImageTree.Attributes(0755, 0, 0));
        }
        d.file("file", FileContent.of(new byte[] {7}), new ImageTree.Attributes(0644, 0, 0));
        Path image = tmp.resolve("deep-inside.daxfs");
        new ImageWriter().write(tree, image);
        assertEquals(0, run("verify", image.toString()).code());
        Path out = tmp.resolve("x".repeat(250)).resolve("y".repeat(50));
        try {
            Run extract = run("extract", image.toString(), out.toString(), "-q");
            assertEquals(1, extract.code(), extract.out() + extract.err());
            assertTrue(extract.err().contains(": would be written at a path of "), extract.err());
            assertTrue(extract.err().contains("at most 4095 bytes"), extract.err());
            assertFalse(extract.err().contains("\tat "), extract.err());
            assertFalse(Files.exists(out.resolve("m".repeat(255))), "nothing is written before the paths are checked");
        } finally {
            removeDeep(tmp.resolve("x".repeat(250)));
        }
    }
}
