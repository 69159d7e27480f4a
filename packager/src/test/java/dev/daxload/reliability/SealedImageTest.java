package dev.daxload.reliability;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.model.ModelWeights;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13.2, what views can promise: an image in a memfd sealed against shrinking, growing and
 * writing cannot be truncated under its views (the kernel refuses with EPERM), so the loader reads it
 * directly; an image in a plain file is only as stable as the file, and says so.
 */
class SealedImageTest {
    static final Linker LINKER = Linker.nativeLinker();
    static final MethodHandle MEMFD_CREATE = fn("memfd_create", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    static final MethodHandle WRITE = fn("write", FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    static final MethodHandle FCNTL = fn("fcntl", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    static final MethodHandle FTRUNCATE = fn("ftruncate", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
    static final MethodHandle CLOSE = fn("close", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    static final int MFD_ALLOW_SEALING = 2;
    static final int F_ADD_SEALS = 1033;
    static final int SEALS = 0x2 | 0x4 | 0x8; // SHRINK, GROW, WRITE

    @TempDir Path tmp;

    static MethodHandle fn(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), fd);
    }

    @Test
    void aSealedMemfdCannotBeTruncatedUnderItsViews() throws Throwable {
        Path file = ModelImages.write(tmp, "s.daxfs", 2, 1 << 20);
        byte[] bytes = Files.readAllBytes(file);
        int fd;
        try (Arena a = Arena.ofConfined()) {
            fd = (int) MEMFD_CREATE.invokeExact(a.allocateFrom("daxload-test"), MFD_ALLOW_SEALING);
            assertTrue(fd >= 0);
            MemorySegment buf = a.allocate(bytes.length);
            MemorySegment.copy(bytes, 0, buf, ValueLayout.JAVA_BYTE, 0, bytes.length);
            assertEquals(bytes.length, (long) WRITE.invokeExact(fd, buf, (long) bytes.length));
        }
        try {
            Path proc = Path.of("/proc/self/fd/" + fd);
            try (ModelWeights w = ModelWeights.open(proc, ModelImages.MODEL)) {
                assertFalse(w.image().isFixedSize(), "unsealed: anyone may still truncate it");
            }
            assertEquals(0, (int) FCNTL.invokeExact(fd, F_ADD_SEALS, SEALS));
            try (ModelWeights w = ModelWeights.open(proc, ModelImages.MODEL)) {
                assertTrue(w.image().isFixedSize());
                assertEquals(-1, (int) FTRUNCATE.invokeExact(fd, 8192L), "the seal refuses the truncation");
                assertEquals(List.of(), w.verify());
                assertEquals(bytes.length, w.image().segment().byteSize());
            }
        } finally {
            int ignored = (int) CLOSE.invokeExact(fd);
        }
        try (ModelWeights w = ModelWeights.open(file, ModelImages.MODEL)) {
            assertFalse(w.image().isFixedSize(), "a plain file can be truncated by its writers");
        }
    }
}
