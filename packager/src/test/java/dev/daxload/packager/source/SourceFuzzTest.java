package dev.daxload.packager.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cheap fuzzing over the reference fixtures: every file is cut at many points and has bytes flipped at
 * random, and reading it must either fail with a {@link SourceFormatException} that names the file, or
 * succeed; a cut file that still reads must yield exactly the tensors of the whole file (a truncation
 * may never silently change what is read), and the contents of a mutated file that still reads must
 * write or fail with an {@link IOException}, never anything else. The number of mutants follows the
 * build's {@code daxload.fuzz.mutants} knob (one per 200, at least 50 per file).
 */
class SourceFuzzTest {
    /** New each run and printed; replay a run with {@code -Dtests.seed=N}. */
    private static final long SEED = dev.daxload.testsupport.TestSeed.of("source fuzz", null);
    @TempDir
    Path tmp;

    private final SourceReaders readers = SourceReaders.standard();

    private static List<Path> fixtureFiles(Path data) throws IOException {
        try (Stream<Path> s = Files.walk(data)) {
            return s.filter(Files::isRegularFile).filter(p -> {
                String n = p.getFileName().toString();
                return n.endsWith(".safetensors") || n.endsWith(".gguf") || n.endsWith(".npy") || n.endsWith(".npz")
                        || n.endsWith(".index.json") || n.endsWith(".pt") || n.endsWith(".bin");
            }).sorted().toList();
        }
    }

    /** Copies the fixture (with its sibling files, for shards) and returns the path to read. */
    private Path copy(Path data, Path file) throws IOException {
        Path rel = data.relativize(file);
        Path dest = tmp.resolve(data.getFileName() + "_" + rel.toString().replace('/', '_') + ".d");
        Files.createDirectories(dest);
        try (Stream<Path> s = Files.list(file.getParent())) {
            for (Path sib : s.filter(Files::isRegularFile).toList()) {
                if (file.getParent().equals(data) && !sib.equals(file)) {
                    continue; // top-level fixtures are independent files
                }
                Files.copy(sib, dest.resolve(sib.getFileName().toString()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        return dest.resolve(file.getFileName().toString());
    }

    /** The shared fixtures when they are there, and the packager's own (which are always there). */
    private static List<Path> corpora() {
        List<Path> dirs = new ArrayList<>();
        Fixtures.sharedTestdata().ifPresent(dirs::add);
        dirs.add(Fixtures.OWN);
        return dirs;
    }

    private static String label(Path data, Path file) {
        return data.getFileName() + "/" + data.relativize(file);
    }

    @TestFactory
    List<DynamicTest> truncationsNeverChangeWhatIsRead() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        for (Path data : corpora()) {
            for (Path f : fixtureFiles(data)) {
                tests.add(DynamicTest.dynamicTest(label(data, f), () -> truncations(data, f)));
            }
        }
        return tests;
    }

    private void truncations(Path data, Path fixture) throws IOException {
        Path target = copy(data, fixture);
        String readPath = fixture.getFileName().toString().endsWith(".index.json") ? null : target.toString();
        Path victim = target;
        Path toRead = readPath == null ? target.getParent() : target;
        Summary whole;
        try {
            whole = summary(readers.read(toRead));
        } catch (SourceFormatException e) {
            whole = null; // a fixture that must be refused must stay refused when cut
        }
        long size = Files.size(victim);
        TreeSet<Long> cuts = new TreeSet<>();
        // every cut inside the first 4 KiB and the last 80 bytes (headers, tables, padding), a sample elsewhere
        for (long k = 0; k < Math.min(size, 4096); k++) {
            cuts.add(k);
        }
        for (long k = Math.max(0, size - 80); k < size; k++) {
            cuts.add(k);
        }
        for (long k = 4096; k < Math.min(size, 65536); k += 61) {
            cuts.add(k);
        }
        for (int i = 1; i < 64; i++) {
            cuts.add(size * i / 64);
        }
        int refusedCount = 0;
        try (FileChannel ch = FileChannel.open(victim, StandardOpenOption.WRITE)) {
            for (long cut : cuts.descendingSet()) {
                ch.truncate(cut);
                try {
                    Summary s = summary(readers.read(toRead));
                    assertEquals(whole, s, "cut at " + cut + " of " + size + " still reads, but differently");
                } catch (org.opentest4j.AssertionFailedError e) {
                    throw e;
                } catch (SourceFormatException e) {
                    refusedCount++;
                    assertTrue(e.getMessage().contains(e.file().getFileName().toString()), e.getMessage());
                } catch (Throwable t) {
                    fail("cut at " + cut + " of " + size + ": " + t, t);
                }
            }
        }
        if (whole == null) {
            assertEquals(cuts.size(), refusedCount, "a refused file stays refused");
        }
        assertTrue(refusedCount > cuts.size() / 2, "most cuts are refused (" + refusedCount + " of " + cuts.size() + ")");
    }

    @TestFactory
    List<DynamicTest> mutantsFailCleanly() throws IOException {
        int perFile = Math.max(50, Integer.getInteger("daxload.fuzz.mutants", 10_000) / 200);
        List<DynamicTest> tests = new ArrayList<>();
        for (Path data : corpora()) {
            for (Path f : fixtureFiles(data)) {
                tests.add(DynamicTest.dynamicTest(label(data, f), () -> mutants(data, f, perFile)));
            }
        }
        return tests;
    }

    private void mutants(Path data, Path fixture, int count) throws IOException {
        Path target = copy(data, fixture);
        Path toRead = fixture.getFileName().toString().endsWith(".index.json") ? target.getParent() : target;
        long size = Files.size(target);
        Random rnd = new Random(SEED ^ fixture.getFileName().toString().hashCode());
        try (FileChannel ch = FileChannel.open(target, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            for (int m = 0; m < count; m++) {
                int flips = 1 + rnd.nextInt(4);
                long[] at = new long[flips];
                byte[] old = new byte[flips];
                for (int i = 0; i < flips; i++) {
                    // mostly where parsers look (headers, tables), sometimes anywhere
                    at[i] = rnd.nextInt(4) == 0 ? (long) (rnd.nextDouble() * size) : rnd.nextInt((int) Math.min(size, 4096));
                    ByteBuffer b = ByteBuffer.allocate(1);
                    ch.read(b, at[i]);
                    old[i] = b.get(0);
                    byte v = switch (rnd.nextInt(4)) {
                        case 0 -> (byte) 0xFF;
                        case 1 -> 0;
                        case 2 -> (byte) (old[i] ^ (1 << rnd.nextInt(8)));
                        default -> (byte) rnd.nextInt(256);
                    };
                    ch.write(ByteBuffer.wrap(new byte[] {v}), at[i]);
                }
                try {
                    SourceModel model = readers.read(toRead);
                    if (m % 10 == 0 && size < (4 << 20)) {
                        for (SourceTensor t : model.tensors()) {
                            try {
                                Fixtures.bytes(t.content());
                            } catch (IOException expected) {
                                // a damaged deflate stream or CRC: reported, not silently written
                            }
                        }
                    }
                } catch (SourceFormatException e) {
                    assertTrue(e.getMessage().contains(e.file().getFileName().toString()), e.getMessage());
                } catch (Throwable t) {
                    fail("mutant " + m + " of " + fixture.getFileName() + " (replay with -Dtests.seed=" + SEED + "): " + t, t);
                }
                for (int i = flips - 1; i >= 0; i--) {
                    ch.write(ByteBuffer.wrap(new byte[] {old[i]}), at[i]);
                }
            }
        }
    }

    /** What a read found, compared by value: names, dtypes, shapes and content descriptions. */
    private record Summary(List<String> tensors) {
    }

    private static Summary summary(SourceModel m) {
        return new Summary(m.tensors().stream()
                .map(t -> t.name() + " " + t.dtype() + " " + java.util.Arrays.toString(t.shape()) + " "
                        + t.content().describe()).toList());
    }
}
