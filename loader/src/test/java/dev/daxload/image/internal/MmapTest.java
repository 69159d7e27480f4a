package dev.daxload.image.internal;

import dev.daxload.image.DaxImage;
import dev.daxload.image.MapOptions;
import static org.junit.jupiter.api.Assertions.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MmapTest {
    @TempDir Path tmp;

    @Test
    void copyOnWriteMappingKeepsWritesPrivate() throws Exception {
        Path f = tmp.resolve("data");
        byte[] bytes = new byte[3 * 4096];
        bytes[5000] = 42;
        Files.write(f, bytes);
        try (Arena a = Arena.ofShared(); Arena b = Arena.ofShared()) {
            MemorySegment cow = Mmap.map(f, MapOptions.copyOnWrite(), a);
            MemorySegment shared = Mmap.map(f, MapOptions.readOnly().withPopulate(true), b);
            assertEquals(bytes.length, cow.byteSize());
            assertEquals(42, cow.get(ValueLayout.JAVA_BYTE, 5000));
            cow.set(ValueLayout.JAVA_BYTE, 5000, (byte) 7);
            assertEquals(7, cow.get(ValueLayout.JAVA_BYTE, 5000), "the writer sees its write");
            assertEquals(42, shared.get(ValueLayout.JAVA_BYTE, 5000), "other mappings do not");
            assertEquals(42, Files.readAllBytes(f)[5000], "the file does not");
            assertThrows(IllegalArgumentException.class, () -> shared.set(ValueLayout.JAVA_BYTE, 0, (byte) 1), // JDK 25: IAE for read-only segments
                    "a read-only mapping refuses writes in Java instead of faulting");
        }
    }

    /**
     * Copy-on-write has two ways: the JDK's {@code MapMode.PRIVATE} where this process may open the file
     * for writing (no native linker), {@code mmap} through FFM where it may not. Both keep writes private,
     * and both are gone from the address space once the arena closes.
     */
    @Test
    void bothCopyOnWriteWaysKeepWritesPrivateAndUnmapOnClose() throws Exception {
        Path f = tmp.resolve("data");
        byte[] bytes = new byte[4 * 4096];
        bytes[9000] = 42;
        Files.write(f, bytes);
        for (boolean viaMmap : new boolean[] {false, true}) {
            long address;
            try (Arena a = Arena.ofShared()) {
                MemorySegment cow = viaMmap ? Mmap.mapWithMmap(f, 0, -1, MapOptions.copyOnWrite(), a) : Mmap.map(f, MapOptions.copyOnWrite(), a);
                address = cow.address();
                assertFalse(cow.isReadOnly(), viaMmap + ": writable");
                assertEquals(bytes.length, cow.byteSize());
                cow.set(ValueLayout.JAVA_BYTE, 9000, (byte) 7);
                assertEquals(7, cow.get(ValueLayout.JAVA_BYTE, 9000), viaMmap + ": the writer sees its write");
                assertEquals(42, Files.readAllBytes(f)[9000], viaMmap + ": the file does not");
                assertTrue(mapsLine(address).contains(" rw-p "), viaMmap + ": a private writable mapping: " + mapsLine(address));
            }
            assertEquals("", mapsLine(address), viaMmap + ": unmapped when the arena closed");
        }
    }

    /** The line of /proc/self/maps that starts at {@code address}, or "". */
    private static String mapsLine(long address) throws java.io.IOException {
        String start = Long.toHexString(address) + "-";
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> l.startsWith(start)).findFirst().orElse("");
    }

    @Test
    void sharedMappingSeesChangesToTheFile() throws Exception {
        Path f = tmp.resolve("data");
        Files.write(f, new byte[8192]);
        try (Arena a = Arena.ofShared()) {
            MemorySegment m = Mmap.map(f, MapOptions.readOnly(), a);
            try (var ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.WRITE)) {
                ch.write(java.nio.ByteBuffer.wrap(new byte[] {9}), 100);
            }
            assertEquals(9, m.get(ValueLayout.JAVA_BYTE, 100), "one physical copy: the mapping is the page cache");
        }
    }

    @Test
    void useAfterCloseIsAnExceptionNotACrash() throws Exception {
        Path f = tmp.resolve("data");
        Files.write(f, new byte[8192]);
        Arena a = Arena.ofShared();
        MemorySegment m = Mmap.map(f, MapOptions.copyOnWrite(), a);
        a.close();
        assertThrows(IllegalStateException.class, () -> m.get(ValueLayout.JAVA_BYTE, 0));
    }

    @Test
    void errorsNameTheFile() {
        var e = assertThrows(java.nio.file.NoSuchFileException.class, () -> Mmap.map(tmp.resolve("nope"), MapOptions.readOnly(), Arena.ofAuto()));
        assertTrue(e.getMessage().contains("nope"));
        Path empty = tmp.resolve("empty");
        assertDoesNotThrow(() -> Files.createFile(empty));
        var e2 = assertThrows(java.io.IOException.class, () -> Mmap.map(empty, MapOptions.readOnly(), Arena.ofAuto()));
        assertTrue(e2.getMessage().contains("empty"), e2.getMessage());
    }

    /** The /dev/mem path reads real physical memory: here low memory, which holds no image. */
    @Test
    void physicalRangeWithoutAnImageIsAFormatErrorNotACrash() {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isReadable(Path.of("/dev/mem")), "no readable /dev/mem (needs root)");
        Exception e = assertThrows(java.io.IOException.class, () -> DaxImage.openPhysical(0xF0000, 65536, MapOptions.readOnly()).close());
        assertTrue(e.getMessage().contains("/dev/mem@0xf0000"), e.getMessage());
    }

    /** A device-DAX character device (CXL or pmem memory): its size comes from sysfs, not from stat. */
    @Test
    void daxDeviceMapsWholeOrSaysWhyNot() throws Exception {
        java.util.Optional<Path> dax;
        try (var devices = Files.list(Path.of("/dev"))) {
            dax = devices.filter(p -> p.getFileName().toString().matches("dax\\d+\\.\\d+")).findFirst();
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(dax.isPresent(), "no /dev/daxX.Y device on this machine (needs CXL or pmem memory in devdax mode)");
        try (Arena a = Arena.ofShared()) {
            MemorySegment m = Mmap.map(dax.get(), MapOptions.readOnly(), a);
            long sysfs = Long.parseLong(Files.readString(Path.of("/sys/bus/dax/devices", dax.get().getFileName().toString(), "size")).trim());
            assertEquals(sysfs, m.byteSize());
        }
    }
}
