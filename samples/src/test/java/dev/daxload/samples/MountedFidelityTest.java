package dev.daxload.samples;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.daxload.cli.Daxload;
import dev.daxload.cli.PackFidelityTest;
import dev.daxload.image.DaxImage;
import dev.daxload.manifest.ModelCatalog;
import dev.daxload.model.ModelWeights;
import dev.daxload.packager.image.HostPaths;
import dev.daxload.tensor.TensorView;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Packed trees and models, mounted on the real daxfs module and compared through the kernel: a tree of
 * the hard cases (names that are not UTF-8, hard links to files and to a symlink, symlinks with odd
 * targets, empty, large and sparse files, deep paths, a directory of many entries, every kind of mode
 * bit, other owners) and every model fixture of {@code testdata/} (safetensors, sharded safetensors,
 * GGUF, ONNX, NumPy), each mounted from the system heap, from a udmabuf and from a physical range
 * (written through /dev/mem into memory set aside with {@code memmap=}). Every path of the mount must
 * match its source (tree) or {@code daxload extract} of the image (models): name bytes, type, mode,
 * owner, size, link count, hard-link sharing, bytes, symlink target; and every tensor that the loader
 * serves from the mount must equal the image file's and the kernel's file of it.
 *
 * <p>More trees and models are taken from {@code daxload.fidelityTrees} (directories) and
 * {@code daxload.fidelityModels} (model sources, each packed as a model of its own beside the fixtures),
 * both lists separated by {@code :}; {@code run-tests.sh} passes {@code DAXLOAD_QEMU_TREES} and
 * {@code DAXLOAD_QEMU_MODELS} on (paths the guest sees: not under the host's /tmp or /run).
 *
 * <p>Needs root and the daxfs module: it runs in the QEMU guest of {@code dmabuf-bridge/qemu/run-tests.sh}
 * ({@code daxload.physScratch}=ADDR,SIZE names the set-aside memory; {@code daxload.testdata} the fixtures).
 */
class MountedFidelityTest {
    @TempDir static Path tmp;
    /** Source trees and their images: the hard tree first, then any given. */
    static final Map<Path, Path> trees = new java.util.LinkedHashMap<>();
    static Path tree;
    static Path treeImage;
    static Path modelImage;
    static Path modelExtract;
    static List<String> models = new ArrayList<>();
    static String missing;
    static final boolean ROOT = "root".equals(System.getProperty("user.name"));

    @BeforeAll
    static void packTreeAndModels() throws Exception {
        if (!Files.readString(Path.of("/proc/filesystems")).contains("\tdaxfs\n")) {
            missing = "needs the daxfs module loaded (runs in the QEMU guest: dmabuf-bridge/qemu/run-tests.sh)";
        } else if (!ROOT) {
            missing = "needs root to mount";
        }
        tree = writeHardTree(Files.createDirectories(tmp.resolve("tree")));
        treeImage = tmp.resolve("tree.daxfs");
        assertEquals(0, Daxload.run("pack", tree.toString(), "-o", treeImage.toString(), "-q"), "daxload pack of the hard tree");
        trees.put(tree, treeImage);
        for (String extra : given("daxload.fidelityTrees")) {
            Path src = Path.of(extra);
            Path image = tmp.resolve("tree-" + trees.size() + ".daxfs");
            assertEquals(0, Daxload.run("pack", src.toString(), "-o", image.toString(), "-q"), "daxload pack " + src);
            trees.put(src, image);
        }

        Path testdata = Path.of(System.getProperty("daxload.testdata", "../testdata"));
        JsonObject files = JsonParser.parseString(Files.readString(testdata.resolve("expected.json"), StandardCharsets.UTF_8))
                .getAsJsonObject().getAsJsonObject("files");
        List<String> args = new ArrayList<>(List.of("pack-model", "-q"));
        for (Map.Entry<String, JsonElement> f : files.entrySet()) {
            JsonObject e = f.getValue().getAsJsonObject();
            if (e.has("expect") && e.get("expect").getAsString().equals("reject")) {
                continue;
            }
            String name = "m" + models.size() + "-" + f.getKey().replaceAll("[^A-Za-z0-9.]", "_");
            models.add(name);
            args.addAll(List.of("--name", name, testdata.resolve(f.getKey()).toString()));
        }
        assertTrue(models.size() >= 10, "the fixtures: " + files.keySet());
        for (String extra : given("daxload.fidelityModels")) {
            String name = "x" + models.size() + "-" + Path.of(extra).getFileName().toString().replaceAll("[^A-Za-z0-9.]", "_");
            models.add(name);
            args.addAll(List.of("--name", name, extra));
        }
        modelImage = tmp.resolve("models.daxfs");
        args.addAll(List.of("-o", modelImage.toString()));
        assertEquals(0, Daxload.run(args.toArray(String[]::new)), "daxload " + args);
        modelExtract = tmp.resolve("models-extracted");
        assertEquals(0, Daxload.run("extract", modelImage.toString(), modelExtract.toString(), "-q"), "daxload extract");
        System.out.printf("[mount fidelity] tree image %d kB, %d models in %d kB%n", Files.size(treeImage) >> 10, models.size(),
                Files.size(modelImage) >> 10);
    }

    /** Without the module: the same comparison against {@code daxload extract}, so the fixtures and the comparison are known sound. */
    @Test
    void theHardTreeSurvivesPackAndExtract() throws Exception {
        Path out = tmp.resolve("tree-extracted");
        assertEquals(0, Daxload.run("extract", treeImage.toString(), out.toString(), "-q"), "daxload extract");
        assertEquals(PackFidelityTest.snapshot(tree), PackFidelityTest.snapshot(out));
        assertEquals(attributes(tree), attributes(out));
    }

    private static void needsTheModule() {
        assumeTrue(missing == null, missing);
    }

    @ParameterizedTest(name = "--via {0}")
    @ValueSource(strings = {"heap", "udmabuf", "phys"})
    void theHardTreeMountsAsItWasPacked(String via) throws Exception {
        needsTheModule();
        for (var t : trees.entrySet()) {
            Path dir = mount(t.getValue(), via);
            try {
                assertEquals(PackFidelityTest.snapshot(t.getKey()), PackFidelityTest.snapshot(dir),
                        t.getKey() + ": names, types, modes, bytes, targets through the kernel");
                assertEquals(attributes(t.getKey()), attributes(dir), t.getKey() + ": owners, sizes, link counts and hard-link sharing through the kernel");
                System.out.printf("[mount fidelity] --via %s: tree %s of %d paths identical through the kernel%n", via,
                        t.getKey().equals(tree) ? "of the hard cases" : t.getKey(), attributes(dir).size());
            } finally {
                umount(dir);
            }
        }
    }

    private static List<String> given(String property) {
        String v = System.getProperty(property, "");
        return v.isBlank() ? List.of() : Arrays.stream(v.split(":")).filter(x -> !x.isBlank()).toList();
    }

    @ParameterizedTest(name = "--via {0}")
    @ValueSource(strings = {"heap", "udmabuf", "phys"})
    void everyModelFixtureMountsFileByFileAndTensorByTensor(String via) throws Exception {
        needsTheModule();
        Path dir = mount(modelImage, via);
        int tensors = 0;
        try {
            assertEquals(PackFidelityTest.snapshot(modelExtract), PackFidelityTest.snapshot(dir), "every file through the kernel = extract's");
            assertEquals(attributes(modelExtract).size(), attributes(dir).size());
            for (String model : models) {
                try (ModelWeights mounted = ModelWeights.open(dir, model); ModelWeights file = ModelWeights.open(modelImage, model)) {
                    MemorySegment whole = mounted.image().segment();
                    assertEquals(file.tensors().keySet(), mounted.tensors().keySet(), model + ": tensor names");
                    for (TensorView t : mounted.tensors().values()) {
                        TensorView f = file.tensor(t.name());
                        String what = model + "/" + t.name();
                        assertEquals(f.dtype(), t.dtype(), what + " dtype");
                        assertArrayEquals(f.shape(), t.shape(), what + " shape");
                        assertEquals(f.byteSize(), t.byteSize(), what + " size");
                        long a = t.segment().address();
                        assertTrue(t.byteSize() == 0 || a >= whole.address() && a + t.byteSize() <= whole.address() + whole.byteSize(),
                                what + " is not a view of the mount's memory");
                        assertEquals(-1, t.segment().mismatch(f.segment()), what + ": the loader's bytes from the mount differ from the image file's");
                        // The file's name as bytes: the guest's JVM runs in the C locale, where a String path holds only ASCII.
                        byte[] kernel = Files.readAllBytes(HostPaths.resolve(dir.resolve(model), t.entry().file()));
                        assertEquals(-1, t.segment().mismatch(MemorySegment.ofArray(kernel)), what + ": the kernel's file differs from the loader's view");
                        tensors++;
                    }
                }
            }
        } finally {
            umount(dir);
        }
        System.out.printf("[mount fidelity] --via %s: %d models, %d tensors identical through the loader and the kernel%n", via, models.size(), tensors);
        assertTrue(tensors > 100, "tensors compared: " + tensors);
    }

    private static Path mount(Path image, String via) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("mnt-" + image.getFileName() + "-" + via));
        String arg = via;
        if (via.equals("phys")) {
            String scratch = System.getProperty("daxload.physScratch");
            assumeTrue(scratch != null, "needs memory set aside for images (daxload.physScratch=ADDR,SIZE; memmap=)");
            long addr = Long.decode(scratch.split(",")[0]);
            long size = Long.decode(scratch.split(",")[1]);
            assertTrue(Files.size(image) <= size, image + " is larger than the " + size + " bytes set aside");
            place(image, addr);
            arg = "phys=0x" + Long.toHexString(addr);
        }
        assertEquals(0, Daxload.run("mount", image.toString(), dir.toString(), "--via", arg), "daxload mount --via " + arg);
        return dir;
    }

    private static void umount(Path dir) {
        assertEquals(0, Daxload.run("umount", dir.toString()), "daxload umount " + dir);
    }

    /** Writes the image into physical memory through /dev/mem, as firmware or another kernel would have. */
    private static void place(Path image, long addr) throws Exception {
        try (FileChannel in = FileChannel.open(image); FileChannel mem = FileChannel.open(Path.of("/dev/mem"), StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocateDirect(1 << 20);
            long at = 0;
            while (in.read(b, at) > 0 || b.position() > 0) {
                b.flip();
                while (b.hasRemaining()) {
                    at += mem.write(b, addr + at);
                }
                b.clear();
            }
            assertEquals(Files.size(image), at, "bytes written to /dev/mem");
        }
    }

    /**
     * The hard cases: {@link PackFidelityTest#writeTree} (names that are not UTF-8, a symlink with two
     * names, a target with odd bytes) plus hard-linked files, empty, large and sparse files, a deep
     * chain, a directory of many entries, setuid/setgid/sticky and unusual modes, other owners.
     */
    static Path writeHardTree(Path src) throws Exception {
        PackFidelityTest.writeTree(src);
        Path links = Files.createDirectories(src.resolve("links/a/b"));
        Files.writeString(src.resolve("links/one"), "three names\n");
        Files.createLink(links.resolve("two"), src.resolve("links/one"));
        Files.createLink(src.resolve("links/a/three"), src.resolve("links/one"));
        Files.createFile(src.resolve("links/empty"));
        Files.createLink(src.resolve("links/empty-too"), src.resolve("links/empty"));
        Files.createSymbolicLink(src.resolve("links/dangling"), Path.of("nowhere/at/all"));
        Files.createSymbolicLink(src.resolve("links/up"), Path.of("../target"));
        Files.createSymbolicLink(src.resolve("links/dir-link"), Path.of("a/b"));

        byte[] large = new byte[(3 << 20) + 4097]; // past a huge page, not a page multiple
        new Random(10).nextBytes(large);
        Files.write(src.resolve("large.bin"), large);
        try (RandomAccessFile sparse = new RandomAccessFile(src.resolve("sparse.bin").toFile(), "rw")) {
            sparse.setLength(6L << 20); // holes, with data at the start, the middle and the last bytes
            sparse.write("start".getBytes(StandardCharsets.US_ASCII));
            sparse.seek(3L << 20);
            sparse.write(new byte[] {1, 2, 3, 4});
            sparse.seek((6L << 20) - 3);
            sparse.write(new byte[] {7, 8, 9});
        }
        try (RandomAccessFile hole = new RandomAccessFile(src.resolve("all-hole.bin").toFile(), "rw")) {
            hole.setLength(1L << 20);
        }
        Files.createFile(src.resolve("empty"));

        Path deep = src;
        for (int i = 0; i < 30; i++) {
            deep = Files.createDirectory(deep.resolve(i + "-" + "d".repeat(60)));
        }
        Files.writeString(deep.resolve("bottom"), "deep\n");

        Path many = Files.createDirectory(src.resolve("many"));
        for (int i = 0; i < 1500; i++) {
            Files.writeString(many.resolve(String.format("entry-%05d", i)), i % 7 == 0 ? "" : "e" + i + "\n");
        }

        Path modes = Files.createDirectory(src.resolve("modes"));
        Map<String, String> perms = new TreeMap<>(Map.of("rw-------", "private", "r--r--r--", "read-only", "rwxr-xr-x", "exec",
                "---------", "none", "rwx------", "owner-exec"));
        for (var e : perms.entrySet()) {
            Path f = Files.writeString(modes.resolve(e.getValue()), e.getValue() + "\n");
            Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(e.getKey()));
        }
        Files.setAttribute(Files.writeString(modes.resolve("setuid"), "su\n"), "unix:mode", 04755);
        Files.setAttribute(Files.writeString(modes.resolve("setgid"), "sg\n"), "unix:mode", 02755);
        Files.setAttribute(Files.createDirectory(modes.resolve("sticky")), "unix:mode", 01777);
        Files.setAttribute(Files.createDirectory(modes.resolve("closed-dir")), "unix:mode", 0700);
        if (ROOT) { // other owners need root to give
            Path owned = Files.writeString(modes.resolve("owned"), "owned\n");
            Files.setAttribute(owned, "unix:uid", 1000);
            Files.setAttribute(owned, "unix:gid", 1000);
            Path nobody = Files.createDirectory(modes.resolve("nobody-dir"));
            Files.setAttribute(nobody, "unix:uid", 65534);
            Files.setAttribute(nobody, "unix:gid", 65534);
        }
        Files.setAttribute(src, "unix:mode", 0755);
        return src;
    }

    /**
     * Every path under {@code root}, the root included, as hex name bytes with what {@link
     * PackFidelityTest#snapshot} leaves out: owner, group, size (not of directories, whose size each
     * filesystem counts its own way), the link count of every inode, directories included, and which
     * names share an inode (by the first of its names).
     */
    static List<String> attributes(Path root) throws Exception {
        List<String> lines = new ArrayList<>();
        Map<Object, String> firstName = new HashMap<>();
        byte[] rootBytes = HostPaths.absoluteBytes(root);
        List<Path> paths;
        try (Stream<Path> s = Files.walk(root)) {
            paths = new ArrayList<>(s.toList());
        }
        paths.sort((x, y) -> Arrays.compareUnsigned(HostPaths.absoluteBytes(x), HostPaths.absoluteBytes(y)));
        for (Path p : paths) {
            byte[] abs = HostPaths.absoluteBytes(p);
            String rel = HexFormat.of().formatHex(Arrays.copyOfRange(abs, rootBytes.length, abs.length));
            Map<String, Object> a = Files.readAttributes(p, "unix:mode,uid,gid,size,nlink,ino", LinkOption.NOFOLLOW_LINKS);
            boolean dir = Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS);
            String shared = "";
            if (!dir && (Integer) a.get("nlink") > 1) {
                shared = " same-inode-as=" + firstName.computeIfAbsent(a.get("ino"), k -> rel);
            }
            lines.add(rel + " mode=" + Integer.toOctalString((Integer) a.get("mode")) + " owner=" + a.get("uid") + ":" + a.get("gid")
                    + (dir ? "" : " size=" + a.get("size")) + " nlink=" + a.get("nlink") + shared);
        }
        return lines;
    }
}
