package dev.daxload.packager.image;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.image.DaxEntry;
import dev.daxload.image.DaxImage;
import dev.daxload.image.DaxInode;
import dev.daxload.image.internal.ImageValidator;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Random trees on disk, packed with {@link TreeScanner} + {@link ImageWriter} and checked against the
 * source as {@code stat} sees it: every path's type, mode, owner, size, bytes, symlink target, hard
 * link identity and link count. Seeded anew each run (printed): a failure names its seed; rerun one
 * with {@code -Dtests.seed=N}.
 */
class RandomRoundTripTest {
    private static final long BASE_SEED = dev.daxload.testsupport.TestSeed.of("random round trips", "daxload.roundtrip.seed");
    private static final boolean ROOT = "root".equals(System.getProperty("user.name"));

    @TempDir Path tmp;

    // ------------------------------------------------------------------ a tree, as operations

    /** One node to create; paths are relative to the tree's root, '/'-separated. */
    sealed interface Spec permits DirSpec, FileSpec, HardLinkSpec, SymlinkSpec {
        String path();
    }

    record DirSpec(String path, int perm, int uid, int gid) implements Spec {}

    record FileSpec(String path, int perm, int uid, int gid, int size, long contentSeed) implements Spec {}

    record HardLinkSpec(String path, String existing) implements Spec {}

    record SymlinkSpec(String path, String target, int uid, int gid) implements Spec {}

    record TreeSpec(DirSpec root, List<Spec> nodes) {}

    static final int[] FILE_PERMS = {0644, 0600, 0755, 0444, 0000, 04755, 02755, 06755, 01644, 04000, 07777};
    static final int[] DIR_PERMS = {0755, 0700, 01777, 02775, 0555, 0711, 03755};
    static final int[] IDS = {0, 1, 1000, 65534, 65536, (int) 3_000_000_000L}; // the last one is > 2^31 unsigned

    /** Names: ASCII, 2-, 3- and 4-byte UTF-8, sometimes exactly 255 bytes. */
    static String name(Random r, boolean allowLong) {
        String[] alphabet = {"a", "b", "z", "A", "0", "-", "_", ".", " ", "é", "ß", "名", "前", "😀", "Ω", "~"};
        int target = allowLong && r.nextInt(12) == 0 ? 255 : 1 + r.nextInt(12);
        StringBuilder sb = new StringBuilder();
        int bytes = 0;
        while (true) {
            String c = alphabet[r.nextInt(alphabet.length)];
            int b = c.getBytes(StandardCharsets.UTF_8).length;
            if (bytes + b > target) break;
            sb.append(c);
            bytes += b;
        }
        while (bytes < target && target == 255) { // exactly 255 bytes
            sb.append('x');
            bytes++;
        }
        String s = sb.isEmpty() ? "n" : sb.toString();
        return s.equals(".") || s.equals("..") ? s + "x" : s;
    }

    static int fileSize(Random r) {
        int[] edges = {0, 0, 1, 2, 4095, 4096, 4097, 8191, 8192, 8193};
        return switch (r.nextInt(4)) {
            case 0, 1 -> edges[r.nextInt(edges.length)];
            case 2 -> r.nextInt(20_000);
            default -> r.nextInt(8) == 0 ? r.nextInt(300_000) : r.nextInt(3000);
        };
    }

    static TreeSpec randomTree(Random r, int nodes) {
        DirSpec root = new DirSpec("", DIR_PERMS[r.nextInt(DIR_PERMS.length)], IDS[r.nextInt(IDS.length)], IDS[r.nextInt(IDS.length)]);
        List<Spec> specs = new ArrayList<>();
        List<String> dirs = new ArrayList<>(List.of(""));
        List<String> files = new ArrayList<>();
        List<String> all = new ArrayList<>();
        Map<String, Set<String>> names = new HashMap<>();
        names.put("", new HashSet<>());
        for (int i = 0; i < nodes; i++) {
            String parent = dirs.get(r.nextInt(dirs.size()));
            // keep host paths well under PATH_MAX: long names only near the top
            boolean allowLong = parent.getBytes(StandardCharsets.UTF_8).length < 1500;
            String n = name(r, allowLong);
            if (!names.get(parent).add(n)) continue;
            String path = parent.isEmpty() ? n : parent + "/" + n;
            int kind = r.nextInt(100);
            int uid = ROOT ? IDS[r.nextInt(IDS.length)] : -1;
            int gid = ROOT ? IDS[r.nextInt(IDS.length)] : -1;
            if (kind < 18) {
                specs.add(new DirSpec(path, DIR_PERMS[r.nextInt(DIR_PERMS.length)], uid, gid));
                dirs.add(path);
                names.put(path, new HashSet<>());
            } else if (kind < 65 || files.isEmpty()) {
                int perm = r.nextInt(5) == 0 ? r.nextInt(010000) : FILE_PERMS[r.nextInt(FILE_PERMS.length)];
                specs.add(new FileSpec(path, perm, uid, gid, fileSize(r), r.nextLong()));
                files.add(path);
            } else if (kind < 78) {
                specs.add(new HardLinkSpec(path, files.get(r.nextInt(files.size()))));
            } else {
                String target = switch (r.nextInt(6)) {
                    case 0 -> "/" + (all.isEmpty() ? "nowhere" : all.get(r.nextInt(all.size())));  // absolute (dangling on the host)
                    case 1 -> "dangling/" + name(r, false);
                    case 2 -> relative(parent, dirs.get(r.nextInt(dirs.size())));                 // to a directory
                    case 3 -> all.isEmpty() ? "." : relative(parent, all.get(r.nextInt(all.size())));
                    case 4 -> "../".repeat(1 + r.nextInt(4)) + name(r, false);
                    default -> name(r, false) + "/./" + name(r, false) + "/";
                };
                specs.add(new SymlinkSpec(path, target, uid, gid));
            }
            all.add(path);
        }
        return new TreeSpec(root, specs);
    }

    static String relative(String fromDir, String to) {
        Path rel = Path.of(fromDir.isEmpty() ? "." : fromDir).relativize(Path.of(to.isEmpty() ? "." : to));
        String s = rel.toString();
        return s.isEmpty() ? "." : s;
    }

    /**
     * Creates the tree under {@code root}. With a {@code shuffle}, nodes are created in another order
     * (parents still first), so inode numbers and readdir order on the host differ.
     */
    static void materialize(Path root, TreeSpec tree, Random shuffle) throws IOException {
        Files.createDirectories(root);
        List<Spec> order = new ArrayList<>(tree.nodes());
        if (shuffle != null) {
            Collections.shuffle(order, shuffle);
            // parents before children, files before their hard links
            order.sort((a, b) -> Integer.compare(rank(a), rank(b)));
        }
        for (Spec s : order) {
            Path p = root.resolve(s.path());
            switch (s) {
                case DirSpec d -> Files.createDirectory(p);
                case FileSpec f -> {
                    byte[] data = new byte[f.size()];
                    new Random(f.contentSeed()).nextBytes(data);
                    Files.write(p, data);
                }
                case HardLinkSpec h -> Files.createLink(p, root.resolve(h.existing()));
                case SymlinkSpec l -> Files.createSymbolicLink(p, Path.of(l.target()));
            }
        }
        // owners first (chown clears setuid/setgid), then modes; directories last, deepest first
        List<Spec> attrs = new ArrayList<>(order);
        attrs.sort((a, b) -> Integer.compare(attrRank(a), attrRank(b)));
        for (Spec s : attrs) {
            Path p = root.resolve(s.path());
            switch (s) {
                case DirSpec d -> setAttrs(p, d.uid(), d.gid(), d.perm(), true);
                case FileSpec f -> setAttrs(p, f.uid(), f.gid(), f.perm(), true);
                case SymlinkSpec l -> setAttrs(p, l.uid(), l.gid(), -1, false);
                case HardLinkSpec h -> {}
            }
        }
        setAttrs(root, tree.root().uid(), tree.root().gid(), tree.root().perm(), true);
    }

    private static int rank(Spec s) {
        int depth = (int) s.path().chars().filter(c -> c == '/').count();
        return switch (s) {
            case DirSpec d -> depth;
            case FileSpec f -> 10_000;
            case HardLinkSpec h -> 20_000;
            case SymlinkSpec l -> 30_000;
        };
    }

    private static int attrRank(Spec s) {
        return s instanceof DirSpec ? 10_000 - (int) s.path().chars().filter(c -> c == '/').count() : 0;
    }

    private static void setAttrs(Path p, int uid, int gid, int perm, boolean follow) throws IOException {
        LinkOption[] opts = follow ? new LinkOption[0] : new LinkOption[] {LinkOption.NOFOLLOW_LINKS};
        if (ROOT && uid != -1) {
            Files.setAttribute(p, "unix:uid", uid, opts);
            Files.setAttribute(p, "unix:gid", gid, opts);
        }
        if (perm >= 0) Files.setAttribute(p, "unix:mode", perm, opts);
    }

    // ------------------------------------------------------------------ packing and checking

    static Path pack(Path src, Path out, ImageWriter writer) throws IOException {
        List<String> warnings = new ArrayList<>();
        writer.write(new TreeScanner(warnings::add).scan(src), out);
        assertEquals(List.of(), warnings);
        return out;
    }

    /** Checks the image against the source tree on disk, path by path. */
    static void verify(Path src, Path image, boolean rootOwned) throws IOException {
        try (DaxImage img = DaxImage.open(image)) {
            var result = ImageValidator.validate(img.segment());
            assertTrue(result.sound(), () -> "validator: " + result.problems());

            List<Path> paths;
            try (Stream<Path> s = Files.walk(src)) {
                paths = s.toList();
            }
            Set<String> expectedPaths = new TreeSet<>();
            Map<Object, Long> inodeOfHostFile = new HashMap<>();
            Map<Long, Object> hostFileOfInode = new HashMap<>();
            for (Path p : paths) {
                String rel = src.relativize(p).toString();
                if (!rel.isEmpty()) expectedPaths.add(rel);
                Map<String, Object> a = Files.readAttributes(p, "unix:mode,uid,gid,size,nlink,ino,dev", LinkOption.NOFOLLOW_LINKS);
                DaxInode n = img.lookup(rel).orElseThrow(() -> new AssertionError("missing in image: " + rel));
                String where = "'" + rel + "'";
                assertEquals((int) a.get("mode"), n.mode(), () -> where + " mode " + Integer.toOctalString((int) a.get("mode")) + " vs " + Integer.toOctalString(n.mode()));
                long uid = rootOwned ? 0 : Integer.toUnsignedLong((int) a.get("uid"));
                long gid = rootOwned ? 0 : Integer.toUnsignedLong((int) a.get("gid"));
                assertEquals(uid, n.uid(), where + " uid");
                assertEquals(gid, n.gid(), where + " gid");
                if (Files.isSymbolicLink(p)) {
                    String target = Files.readSymbolicLink(p).toString();
                    assertEquals(target, img.readSymlink(n), where + " target");
                    assertEquals(target.getBytes(StandardCharsets.UTF_8).length, n.size(), where + " symlink size");
                    assertEquals(1, n.nlink(), where + " nlink");
                } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    Set<String> hostNames = new TreeSet<>();
                    int subdirs = 0;
                    try (Stream<Path> s = Files.list(p)) {
                        for (Path c : s.toList()) {
                            hostNames.add(c.getFileName().toString());
                            if (Files.isDirectory(c, LinkOption.NOFOLLOW_LINKS)) subdirs++;
                        }
                    }
                    Set<String> imageNames = new TreeSet<>();
                    for (DaxEntry e : img.list(rel)) imageNames.add(e.name());
                    assertEquals(hostNames, imageNames, where + " entries");
                    assertEquals(2L + subdirs, n.nlink(), where + " nlink");
                    assertEquals(((Number) a.get("nlink")).longValue(), n.nlink(), where + " nlink vs the host's");
                    assertEquals(hostNames.size() * 271L, n.size(), where + " size");
                } else {
                    long size = (long) a.get("size");
                    assertEquals(size, n.size(), where + " size");
                    assertEquals(((Number) a.get("nlink")).longValue(), n.nlink(), where + " nlink");
                    MemorySegment content = img.content(n);
                    byte[] expected = Files.readAllBytes(p);
                    long mismatch = MemorySegment.ofArray(expected).mismatch(content);
                    assertEquals(-1, mismatch, where + " content differs at byte " + mismatch);
                    if (size > 0) assertEquals(0, img.absoluteOffset(n.dataOffset()) % 4096, where + " alignment");
                    // hard links: one image inode per host inode, and back
                    Object key = List.of(a.get("dev"), a.get("ino"));
                    Long prev = inodeOfHostFile.putIfAbsent(key, n.ino());
                    assertTrue(prev == null || prev == n.ino(), where + " is a hard link of inode " + prev + " but reads as " + n.ino());
                    Object prevKey = hostFileOfInode.putIfAbsent(n.ino(), key);
                    assertTrue(prevKey == null || prevKey.equals(key), where + " shares inode " + n.ino() + " with another host file");
                }
            }
            Set<String> imagePaths = new TreeSet<>();
            img.walk(e -> imagePaths.add(e.path()));
            assertEquals(expectedPaths, imagePaths, "paths in the image");
        }
    }

    /** Runs {@code body} and, if it fails, says which seed to rerun. */
    static void withSeed(long seed, ThrowingRunnable body) throws Exception {
        try {
            body.run();
        } catch (Throwable t) {
            throw new AssertionError("failed for seed " + seed + " (rerun all with -Dtests.seed=" + BASE_SEED + "): " + t.getMessage(), t);
        }
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }

    // ------------------------------------------------------------------ the tests

    @Test
    void randomTreesReadBackExactly() throws Exception {
        for (int i = 0; i < 12; i++) {
            long seed = BASE_SEED + i;
            withSeed(seed, () -> {
                Random r = new Random(seed);
                TreeSpec tree = randomTree(r, 20 + r.nextInt(150));
                Path src = tmp.resolve("src-" + seed);
                materialize(src, tree, null);
                Path img = pack(src, tmp.resolve("img-" + seed), new ImageWriter());
                verify(src, img, false);
            });
        }
    }

    @Test
    void sameTreeGivesTheSameBytesWhateverTheCreationOrder() throws Exception {
        for (int i = 0; i < 4; i++) {
            long seed = BASE_SEED + 100 + i;
            withSeed(seed, () -> {
                TreeSpec tree = randomTree(new Random(seed), 120);
                Path a = tmp.resolve("a-" + seed);
                Path b = tmp.resolve("b-" + seed);
                materialize(a, tree, null);
                materialize(b, tree, new Random(seed ^ 0x5DEECE66DL));
                Path ia1 = pack(a, tmp.resolve("a1-" + seed), new ImageWriter());
                Path ia2 = pack(a, tmp.resolve("a2-" + seed), new ImageWriter());
                Path ib = pack(b, tmp.resolve("b-" + seed + ".img"), new ImageWriter());
                assertEquals(-1, Files.mismatch(ia1, ia2), "packing the same tree twice");
                assertEquals(-1, Files.mismatch(ia1, ib), "packing a copy made in another order");
                verify(b, ib, false);
            });
        }
    }

    @Test
    void edgeSizesAndModes() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("edge"));
        int[] sizes = {0, 1, 4095, 4096, 4097, 8192, 12289};
        Random r = new Random(7);
        for (int s : sizes) {
            byte[] b = new byte[s];
            r.nextBytes(b);
            Path f = Files.write(src.resolve("f" + s), b);
            Files.setAttribute(f, "unix:mode", s % 2 == 0 ? 04755 : 01600);
        }
        Path sticky = Files.createDirectory(src.resolve("sticky"));
        Files.setAttribute(sticky, "unix:mode", 01777);
        Path setgid = Files.createDirectory(src.resolve("setgid"));
        Files.setAttribute(setgid, "unix:mode", 02750);
        verify(src, pack(src, tmp.resolve("edge.img"), new ImageWriter()), false);
    }

    @Test
    void aDirectoryWith5000Entries() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("wide/d"));
        Random r = new Random(BASE_SEED);
        for (int i = 0; i < 5000; i++) {
            Path p = src.resolve(String.format("entry-%05d-%s", i, name(r, false).replace("/", "")));
            if (i % 500 == 0) Files.createDirectory(p);
            else if (i % 7 == 0) Files.createSymbolicLink(p, Path.of("entry-00001"));
            else Files.write(p, i % 3 == 0 ? new byte[0] : new byte[] {(byte) i, (byte) (i >> 8)});
        }
        Path img = pack(src.getParent(), tmp.resolve("wide.img"), new ImageWriter());
        verify(src.getParent(), img, false);
        try (DaxImage image = DaxImage.open(img)) {
            assertEquals(5000, image.list("d").size());
            assertEquals(5000 * 271L, image.lookup("d").orElseThrow().size());
        }
    }

    @Test
    void aTreeTwoHundredDirectoriesDeep() throws Exception {
        Path src = tmp.resolve("deep");
        Path d = src;
        for (int i = 0; i < 200; i++) {
            d = d.resolve(i % 2 == 0 ? "d" + i : "é" + i);
            Files.createDirectories(d);
            Files.write(d.resolve("f"), new byte[] {(byte) i});
        }
        Files.createSymbolicLink(d.resolve("to-top"), Path.of("/d0"));
        Path img = pack(src, tmp.resolve("deep.img"), new ImageWriter());
        verify(src, img, false);
        try (DaxImage image = DaxImage.open(img)) {
            String deepest = src.relativize(d).toString();
            assertEquals((byte) 199, image.content(deepest + "/f").get(ValueLayout.JAVA_BYTE, 0));
            assertEquals(image.lookup("d0").orElseThrow(), image.resolve(deepest + "/to-top"));
        }
    }

    @Test
    void longMultibyteNamesAndLinksAcrossDirectories() throws Exception {
        Path src = tmp.resolve("names");
        String long3 = "名".repeat(85);                    // 255 bytes of 3-byte characters
        String long4 = "😀".repeat(63) + "xyz";            // 252 + 3 = 255 bytes
        Path a = Files.createDirectories(src.resolve(long3));
        Path b = Files.createDirectories(src.resolve("b"));
        Files.writeString(a.resolve(long4), "payload");
        Files.createLink(b.resolve("hard"), a.resolve(long4));
        Files.createLink(src.resolve("hard-top"), a.resolve(long4));
        Files.createSymbolicLink(b.resolve("sym"), Path.of("../" + long3 + "/" + long4));
        Path img = pack(src, tmp.resolve("names.img"), new ImageWriter());
        verify(src, img, false);
        try (DaxImage image = DaxImage.open(img)) {
            DaxInode f = image.lookup(long3 + "/" + long4).orElseThrow();
            assertEquals(3, f.nlink());
            assertEquals(f, image.resolve("b/sym"));
        }
    }

    /** Files of at least 2 MiB start on 2 MiB boundaries of the image; the rest stay 4096-aligned. */
    @Test
    void hugePageAlignment() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("align"));
        Random r = new Random(3);
        int[] sizes = {100, 2 << 20, (2 << 20) + 1, 5000, (3 << 20) - 7, 0, 4096};
        for (int i = 0; i < sizes.length; i++) {
            byte[] b = new byte[sizes[i]];
            r.nextBytes(b);
            Files.write(src.resolve("f" + i), b);
        }
        ImageTree tree = new TreeScanner(w -> {}).scan(src);
        Path out = tmp.resolve("align.img");
        ImageLayout layout = new ImageWriter().alignment(2 << 20).write(tree, out);
        verify(src, out, false);
        try (DaxImage image = DaxImage.open(out)) {
            for (int i = 0; i < sizes.length; i++) {
                DaxInode n = image.lookup("f" + i).orElseThrow();
                long abs = image.absoluteOffset(n.dataOffset());
                var node = (ImageTree.RegularFile) tree.root().get("f" + i);
                if (sizes[i] > 0) assertEquals(abs, layout.offsetOf(node), "layout offset of f" + i);
                if (sizes[i] >= 2 << 20) assertEquals(0, abs % (2 << 20), "f" + i + " at " + abs);
                else if (sizes[i] > 0) assertEquals(0, abs % 4096, "f" + i + " at " + abs);
            }
        }
    }

    @Test
    void rootOwnedImagesKeepModesAndDropOwners() throws Exception {
        long seed = BASE_SEED + 200;
        withSeed(seed, () -> {
            TreeSpec tree = randomTree(new Random(seed), 80);
            Path src = tmp.resolve("owned");
            materialize(src, tree, null);
            Path img = pack(src, tmp.resolve("owned.img"), new ImageWriter().rootOwned(true));
            verify(src, img, true);
        });
    }
}
