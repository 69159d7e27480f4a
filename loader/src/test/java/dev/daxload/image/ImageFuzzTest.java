package dev.daxload.image;

import dev.daxload.image.internal.ImageValidator;
import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.image.TestImageBuilder.Dir;
import dev.daxload.image.TestImageBuilder.File;
import dev.daxload.image.TestImageBuilder.Style;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Mutates valid images and feeds them to {@link ImageValidator} and {@link DaxImage}: whatever the
 * bytes, the reader may only refuse with {@link DaxFormatException} (at open) or, for lookups, a
 * {@link FileSystemException} (not found, loops, not a directory). Anything else (an index out of
 * bounds, an NPE, a stack overflow, running out of memory, a hang) fails the test with the seed and
 * mutant index.
 *
 * <p>Knobs (system properties): {@code daxload.fuzz.mutants} (count; the root pom passes 100000),
 * {@code tests.seed} (new each run and printed; the older {@code daxload.fuzz.seed} still works),
 * {@code daxload.fuzz.only} (replay one mutant index, printing its mutations).
 *
 * <p>Every mutant is a function of (seed, index) alone, so any one can be replayed without running
 * the ones before it. Mutants are made in place in one byte array per seed image and undone after
 * each run: no copying of whole images per mutant.
 */
class ImageFuzzTest {
    /** Wall-clock budget for one mutant; generous so that a GC pause on a busy CI box is no hang. */
    private static final long BUDGET_NANOS = 5_000_000_000L;
    private static final int MAX_REPORTED = 10;

    /** A valid image to mutate, with the places worth aiming at. */
    record SeedImage(String name, byte[] original, TestImageBuilder.Built built) {}

    static List<SeedImage> seedImages() {
        List<SeedImage> seeds = new ArrayList<>();
        for (Style style : Style.values()) {
            seeds.add(seed("small-" + style, small(), style));
            seeds.add(seed("reference-" + style, ReferenceLayoutReadTest.referenceTree(), style));
            seeds.add(seed("chain-" + style, chain(12), style));
        }
        seeds.add(seed("wide50", wide(50), Style.SORTED_BFS));
        seeds.add(seed("wide50-mkdaxfs", wide(50), Style.MKDAXFS));
        return seeds;
    }

    private static SeedImage seed(String name, Dir root, Style style) {
        var built = TestImageBuilder.build(root, style);
        var result = ImageValidator.validate(MemorySegment.ofArray(built.image().clone()));
        assertTrue(result.sound(), () -> name + ": " + result.problems());
        return new SeedImage(name, built.image(), built);
    }

    static Dir small() {
        Dir root = new Dir(0755);
        Dir a = root.dir("a", 0755);
        Dir b = a.dir("b", 0700);
        File f = b.file("f", "hello, world".getBytes(StandardCharsets.UTF_8), 0644);
        a.add("hard", f);
        root.add("hard2", f);
        root.symlink("s", "a/b/f");
        root.symlink("up", "../../a");
        a.symlink("self", ".");
        root.file("e", new byte[0], 0600);
        root.dir("empty", 0755);
        root.file("zzz", new byte[4097], 0644);
        return root;
    }

    static Dir chain(int depth) {
        Dir root = new Dir(0755);
        Dir d = root;
        for (int i = 0; i < depth; i++) {
            d.file("f" + i, new byte[] {(byte) i}, 0644);
            d = d.dir("d" + i, 0755);
        }
        d.symlink("top", "/d0");
        return root;
    }

    static Dir wide(int n) {
        Dir root = new Dir(0755);
        Dir w = root.dir("w", 0755);
        for (int i = 0; i < n; i++) {
            if (i % 10 == 0) w.file("file-" + i, ("content " + i).getBytes(StandardCharsets.UTF_8), 0644);
            else if (i % 10 == 1) w.symlink("link-" + i, "file-" + (i - 1));
            else if (i % 10 == 2) w.dir("dir-" + i, 0755).file("x", new byte[] {1}, 0644);
            else w.file("empty-" + i, new byte[0], 0644);
        }
        return root;
    }

    @Test
    void mutantsNeverCrashTheReader() throws Exception {
        long seed = dev.daxload.testsupport.TestSeed.of("image fuzz", "daxload.fuzz.seed");
        int count = Integer.getInteger("daxload.fuzz.mutants", 20_000);
        Long only = Long.getLong("daxload.fuzz.only");
        List<SeedImage> seeds = seedImages();
        Fuzzer fuzzer = new Fuzzer(seeds, seed);
        if (only != null) {
            String failure = fuzzer.runOne(only, true);
            assertNull(failure, failure);
            return;
        }
        AtomicLong current = new AtomicLong(-1);
        AtomicLong startedAt = new AtomicLong(System.nanoTime());
        List<String> failures = new ArrayList<>();
        long[] readable = new long[1];
        long[] ran = new long[1];
        long[] slowest = {-1, 0}; // index, nanos: a slow mutant hints at a complexity problem
        Thread worker = Thread.ofPlatform().daemon().name("image-fuzz").start(() -> {
            for (long i = 0; i < count && failures.size() < MAX_REPORTED; i++) {
                startedAt.set(System.nanoTime());
                current.set(i);
                String failure;
                try {
                    long t = System.nanoTime();
                    failure = fuzzer.runOne(i, false);
                    t = System.nanoTime() - t;
                    if (t > slowest[1]) {
                        slowest[0] = i;
                        slowest[1] = t;
                    }
                } catch (Throwable t) { // the fuzzer itself broke: report it rather than lose the thread
                    failure = "mutant " + i + ": the fuzzer failed: " + t;
                }
                if (failure != null) {
                    synchronized (failures) {
                        failures.add(failure);
                    }
                }
            }
            readable[0] = fuzzer.readable;
            ran[0] = fuzzer.ran;
            current.set(Long.MAX_VALUE);
        });
        long t0 = System.nanoTime();
        while (worker.isAlive()) {
            worker.join(200);
            long i = current.get();
            if (worker.isAlive() && i >= 0 && i != Long.MAX_VALUE && System.nanoTime() - startedAt.get() > BUDGET_NANOS) {
                fail("mutant " + i + " (seed " + seed + ") ran past " + BUDGET_NANOS / 1_000_000 + " ms: a hang? replay with -Dtests.seed="
                        + seed + " -Ddaxload.fuzz.only=" + i + "\n" + fuzzer.describe(i));
            }
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        System.out.printf("image fuzz: %d mutants of %d seed images in %d ms (seed %d); %d opened as readable; slowest: mutant %d, %.1f ms%n",
                ran[0], seeds.size(), ms, seed, readable[0], slowest[0], slowest[1] / 1e6);
        synchronized (failures) {
            assertTrue(failures.isEmpty(), () -> failures.size() + " failing mutants (seed " + seed + "; replay one with -Dtests.seed="
                    + seed + " -Ddaxload.fuzz.only=INDEX):\n" + String.join("\n\n", failures));
        }
        // The mutations must not be so destructive that the reader is never exercised.
        assertEquals(count, ran[0]);
        assertTrue(readable[0] > count / 20, "only " + readable[0] + " of " + count + " mutants were readable");
    }

    /** Seed images are mutated in place and restored; one thread only. */
    static final class Fuzzer {
        final List<SeedImage> seeds;
        final byte[][] work;
        final long seed;
        long readable;
        long ran;
        StringBuilder log; // what the current mutant did, when asked to describe

        Fuzzer(List<SeedImage> seeds, long seed) {
            this.seeds = seeds;
            this.seed = seed;
            this.work = new byte[seeds.size()][];
            for (int i = 0; i < work.length; i++) work[i] = seeds.get(i).original().clone();
        }

        String describe(long index) {
            SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + index);
            SeedImage s = seeds.get((int) (index % seeds.size()));
            log = new StringBuilder("seed image " + s.name() + ":");
            byte[] scratch = s.original().clone();
            mutate(r, s, scratch);
            String d = log.toString();
            log = null;
            return d;
        }

        /** Runs mutant {@code index}; returns null or a report of what went wrong. */
        String runOne(long index, boolean verbose) {
            SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + index);
            ran++;
            int which = (int) (index % seeds.size());
            SeedImage s = seeds.get(which);
            byte[] img = work[which];
            if (verbose) log = new StringBuilder("seed image " + s.name() + ":");
            try {
                int len = mutate(r, s, img);
                String problem = check(MemorySegment.ofArray(img).asSlice(0, len));
                return problem == null ? null : report(index, problem, null);
            } catch (Throwable t) {
                return report(index, "unexpected " + t, t);
            } finally {
                System.arraycopy(s.original(), 0, img, 0, img.length); // undo: images are small
                if (verbose && log != null) System.out.println(log);
            }
        }

        private String report(long index, String what, Throwable t) {
            StringWriter sw = new StringWriter();
            sw.append("mutant ").append(Long.toString(index)).append(" (seed ").append(Long.toString(seed)).append("): ").append(what)
                    .append("\n  mutations: ").append(describe(index));
            if (t != null) {
                sw.append('\n');
                t.printStackTrace(new PrintWriter(sw));
            }
            String s = sw.toString();
            return s.length() > 4000 ? s.substring(0, 4000) + "..." : s;
        }

        /** Validates and reads one mutant; returns null if everything behaved. */
        String check(MemorySegment seg) throws Exception {
            ImageValidator.Result result = ImageValidator.validate(seg);
            DaxImage img;
            try {
                img = DaxImage.of(seg, "mutant");
            } catch (DaxFormatException e) {
                if (result.readable()) return "validate() says readable but DaxImage.of refused: " + e.getMessage();
                if (e.problem() == null || e.problem().severity() != ImageProblem.Severity.ERROR) return "refused without an error: " + e.getMessage();
                return null;
            }
            if (!result.readable()) return "DaxImage.of accepted an image validate() finds unreadable: " + result.problems();
            readable++;
            exercise(img);
            return null;
        }

        private static void exercise(DaxImage img) throws Exception {
            List<DaxEntry> entries = new ArrayList<>();
            img.walk(entries::add);
            img.list("");
            long sum = 0;
            for (DaxEntry e : entries) {
                DaxInode n = e.inode();
                if (!img.lookup(e.path()).orElseThrow().equals(n)) throw new AssertionError("lookup(" + e.path() + ") differs from walk");
                if (n.isDirectory()) {
                    sum += img.list(e.path()).size();
                } else if (n.isRegularFile()) {
                    sum += readFully(img.content(n));
                } else if (n.isSymlink()) {
                    sum += img.readSymlink(n).length();
                }
                sum += tolerate(() -> img.resolve(e.path()).size());
                sum += tolerate(() -> img.list(e.path()).size());
                sum += tolerate(() -> img.content(e.path()).byteSize());
                sum += tolerate(() -> img.resolve(e.path() + "/../.." ).ino());
                sum += tolerate(() -> img.resolve(e.path() + "/x").ino());
            }
            for (long ino = 1; ino <= img.inodeCount(); ino++) {
                DaxInode n = img.inode(ino);
                n.modeString();
                if (n.isRegularFile()) sum += readFully(img.content(n));
                else if (n.isSymlink()) sum += img.readSymlink(n).length();
            }
            sum += tolerate(() -> img.resolve("/../x/./..").ino());
            if (sum == 42) System.out.print(""); // keep the reads from being optimized away
        }

        interface Op {
            long run() throws Exception;
        }

        private static long tolerate(Op op) throws Exception {
            try {
                return op.run();
            } catch (FileSystemException expected) {
                return 0; // not found, not a directory, symlink loop: all legitimate answers
            }
        }

        private static long readFully(MemorySegment s) {
            long sum = 0;
            long n = s.byteSize();
            long i = 0;
            for (; i + 8 <= n; i += 8) sum += s.get(ValueLayout.JAVA_LONG_UNALIGNED, i);
            for (; i < n; i++) sum += s.get(ValueLayout.JAVA_BYTE, i);
            return sum;
        }

        // ---------------------------------------------------------------- mutations

        private void note(String s) {
            if (log != null) log.append(' ').append(s).append(';');
        }

        /** Mutates {@code img} in place; returns the length of the mutant (truncations shorten it). */
        int mutate(SplittableRandom r, SeedImage s, byte[] img) {
            int len = img.length;
            int ops = 1 + (r.nextInt(4) == 0 ? r.nextInt(3) : 0);
            for (int k = 0; k < ops; k++) {
                len = mutateOnce(r, s, img, len);
            }
            return len;
        }

        private int mutateOnce(SplittableRandom r, SeedImage s, byte[] img, int len) {
            ByteBuffer b = ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN);
            var built = s.built();
            int op = r.nextInt(100);
            if (op < 12) { // random byte flips, biased to metadata
                int n = 1 + r.nextInt(4);
                for (int i = 0; i < n; i++) {
                    int at = metadataOffset(r, s, len);
                    byte v = r.nextBoolean() ? (byte) (img[at] ^ (1 << r.nextInt(8))) : (byte) r.nextInt(256);
                    note("byte[" + at + "]=" + v);
                    img[at] = v;
                }
            } else if (op < 14) { // base image placement and sizes moved together, so that later checks are reached
                long[] offs = {4096, 8192, len & -4096L, (len & -4096L) - 4096, (long) (1 + r.nextInt(Math.max(1, len / 4096))) * 4096};
                long off = Math.max(4096, offs[r.nextInt(offs.length)]);
                long[] sizes = {0, 1, 48, 4095, 4096, len - off, len - off - 1, len - off + 1, len - off - 4096, (len - off) / 2};
                long size = sizes[r.nextInt(sizes.length)];
                long[] totals = {size, size - 1, size + 1, 4096, 4095, 0, size / 2};
                long total = totals[r.nextInt(totals.length)];
                note("base_offset=" + off + " base_size=" + size + " base total=" + total);
                b.putLong(24, off).putLong(32, size).putLong(16, off + size);
                if (off + 48 <= len) {
                    // the base superblock moves with base_offset, as a tool that wrote it there would have done
                    System.arraycopy(s.original(), 4096, img, (int) off, (int) Math.min(4096, len - off));
                    b.putLong((int) off + 16, total);
                }
            } else if (op < 20) { // a superblock field
                int[] fields = {0, 4, 8, 12, 16, 24, 32, 40, 48, 52, 64, 4096, 4100, 4104, 4108, 4112, 4120, 4128, 4132, 4136};
                int at = fields[r.nextInt(fields.length)];
                putInteresting(r, b, at, at == 16 || at == 24 || at == 32 || at == 40 || at == 64 || at == 4112 || at == 4120 || at == 4136, len, s);
            } else if (op < 50) { // an inode field
                int ino = 1 + r.nextInt(built.inodeCount());
                int at = (int) (built.inodeTable() + 64L * (ino - 1));
                int field = r.nextInt(8);
                switch (field) {
                    case 0 -> putInteresting(r, b, at, false, len, s);
                    case 1 -> { // mode: another type, or garbage
                        int[] modes = {0040755, 0100644, 0120777, 0020644, 0060644, 0010644, 0140755, 0, 0170000, 0177777, r.nextInt()};
                        int m = modes[r.nextInt(modes.length)];
                        note("inode " + ino + ".mode=0" + Integer.toOctalString(m));
                        b.putInt(at + 4, m);
                    }
                    case 2, 3 -> putInteresting(r, b, at + 8 + 4 * (field - 2), false, len, s);
                    case 4 -> putInteresting(r, b, at + 16, true, len, s);
                    case 5 -> putInteresting(r, b, at + 24, true, len, s);
                    case 6 -> putInteresting(r, b, at + 32, false, len, s);
                    default -> { // copy another inode over this one, keeping or not its ino
                        int other = 1 + r.nextInt(built.inodeCount());
                        int from = (int) (built.inodeTable() + 64L * (other - 1));
                        note("inode " + ino + " := inode " + other);
                        System.arraycopy(img, from, img, at, 64);
                        if (r.nextBoolean()) b.putInt(at, ino);
                    }
                }
            } else if (op < 78 && !built.direntOffsets().isEmpty()) { // a directory entry
                int at = built.direntOffsets().get(r.nextInt(built.direntOffsets().size())).intValue();
                switch (r.nextInt(7)) {
                    case 0 -> { // child inode: any, the root, itself, out of range
                        long[] v = {0, 1, built.inodeCount(), built.inodeCount() + 1, 0xFFFF_FFFFL, 1 + r.nextInt(built.inodeCount())};
                        long ino = v[r.nextInt(v.length)];
                        note("dirent@" + at + ".ino=" + ino);
                        b.putInt(at, (int) ino);
                    }
                    case 1 -> {
                        int[] modes = {0040755, 0100644, 0120777, 0020644, 0};
                        int m = modes[r.nextInt(modes.length)];
                        note("dirent@" + at + ".mode=0" + Integer.toOctalString(m));
                        b.putInt(at + 4, m);
                    }
                    case 2 -> {
                        int[] lens = {0, 1, 2, 254, 255, 256, 271, 272, 0x7FFF, 0xFFFF, r.nextInt(65536)};
                        int l = lens[r.nextInt(lens.length)];
                        note("dirent@" + at + ".name_len=" + l);
                        b.putShort(at + 8, (short) l);
                    }
                    case 3 -> { // a bad byte in the name
                        int nameLen = Short.toUnsignedInt(b.getShort(at + 8));
                        byte[] bad = {'/', 0, '.', (byte) 0xFF, (byte) 0xC3, (byte) 0x80};
                        int pos = at + 16 + r.nextInt(Math.max(1, Math.min(nameLen, 255)));
                        byte v = bad[r.nextInt(bad.length)];
                        note("dirent@" + at + ".name[" + (pos - at - 16) + "]=" + v);
                        img[pos] = v;
                    }
                    case 4 -> { // name "." or ".."
                        int l = 1 + r.nextInt(2);
                        note("dirent@" + at + ".name=" + ".".repeat(l));
                        b.putShort(at + 8, (short) l);
                        img[at + 16] = '.';
                        img[at + 17] = '.';
                    }
                    case 5 -> { // copy another entry over this one: duplicate names, two parents, cycles
                        int from = built.direntOffsets().get(r.nextInt(built.direntOffsets().size())).intValue();
                        note("dirent@" + at + " := dirent@" + from);
                        System.arraycopy(img, from, img, at, 272);
                    }
                    default -> putInteresting(r, b, at + r.nextInt(268), false, len, s);
                }
            } else if (op < 86) { // truncation
                int[] cuts = {0, 1, 4096, 8191, 8192, 8193, 12288, len - 1, len - 4096, len - 4097, r.nextInt(Math.max(1, len))};
                int cut = Math.max(0, Math.min(len, cuts[r.nextInt(cuts.length)]));
                note("truncate to " + cut);
                len = cut;
            } else if (op < 92 && len >= 8192) { // duplicate a block over another
                int blocks = len / 4096;
                int from = r.nextInt(blocks) * 4096;
                int to = r.nextInt(blocks) * 4096;
                note("block@" + from + " -> block@" + to);
                System.arraycopy(img, from, img, to, 4096);
            } else if (op < 96 && len >= 8192) { // remove a block: the rest moves up
                int at = r.nextInt(len / 4096) * 4096;
                note("remove block@" + at);
                System.arraycopy(img, at + 4096, img, at, len - at - 4096);
                len -= 4096;
            } else { // a random u32/u64 anywhere
                putInteresting(r, b, r.nextInt(Math.max(1, len - 8)), r.nextBoolean(), len, s);
            }
            return len;
        }

        private static int metadataOffset(SplittableRandom r, SeedImage s, int len) {
            var built = s.built();
            int at = switch (r.nextInt(5)) {
                case 0 -> r.nextInt(192);
                case 1 -> 4096 + r.nextInt(48);
                case 2 -> (int) built.inodeTable() + r.nextInt(64 * built.inodeCount());
                case 3 -> built.direntOffsets().isEmpty() ? 0 : built.direntOffsets().get(r.nextInt(built.direntOffsets().size())).intValue() + r.nextInt(272);
                default -> r.nextInt(Math.max(1, len));
            };
            return Math.min(at, Math.max(0, len - 1));
        }

        /** Writes an edge value (as a u32 or u64) at {@code at}. */
        private void putInteresting(SplittableRandom r, ByteBuffer b, int at, boolean wide, int len, SeedImage s) {
            long baseSize = len - 4096L;
            long[] values = {0, 1, 2, -1, 4095, 4096, 4097, 8192, 271, 272, 542, 813, 4095, 0x7FFF_FFFFL, 0x8000_0000L, 0xFFFF_FFFFL,
                    0x1_0000_0000L, Long.MAX_VALUE, Long.MIN_VALUE, len, len - 1, len + 1, baseSize, baseSize - 1, baseSize + 1,
                    baseSize - 4096, baseSize - 271, baseSize - 272, len - r.nextInt(8193), (long) r.nextInt(Math.max(1, len / 4096)) * 4096,
                    r.nextInt(1 << 20), r.nextLong(), s.built().inodeCount(), s.built().inodeCount() + 1L};
            long v = values[r.nextInt(values.length)];
            int max = b.capacity() - (wide ? 8 : 4);
            if (at > max) at = max;
            if (at < 0) return;
            note((wide ? "u64@" : "u32@") + at + "=" + v);
            if (wide) b.putLong(at, v);
            else b.putInt(at, (int) v);
        }
    }

    /** The fuzzer must actually mutate: a mutant differs from its seed image. */
    @Test
    void mutantsDifferFromTheirSeedImages() {
        List<SeedImage> seeds = seedImages();
        Fuzzer f = new Fuzzer(seeds, 1);
        int changed = 0;
        for (long i = 0; i < 200; i++) {
            SeedImage s = seeds.get((int) (i % seeds.size()));
            byte[] copy = s.original().clone();
            int len = f.mutate(new SplittableRandom(i), s, copy);
            if (len != copy.length || !java.util.Arrays.equals(copy, s.original())) changed++;
        }
        assertTrue(changed > 150, changed + " of 200 mutants changed anything");
        // and the in-place undo restores the originals
        for (long i = 0; i < 100; i++) f.runOne(i, false);
        for (int k = 0; k < seeds.size(); k++) assertArrayEquals(seeds.get(k).original(), f.work[k]);
    }
}
