package dev.daxload.bridge.mmap;

import dev.daxload.bridge.linux.Errno;
import dev.daxload.bridge.linux.LinuxConstants;
import dev.daxload.bridge.linux.LinuxException;
import dev.daxload.bridge.memfd.Memfd;
import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MappingTest {
    private static final long PAGE = LinuxConstants.PAGE_SIZE;

    @Test
    void closeInvalidatesTheSegmentBeforeUnmapping() throws Exception {
        try (Memfd m = Memfd.create("daxload-invalidate", PAGE)) {
            Mapping map = Mapping.map(m.fd(), 0, PAGE, Mapping.Access.READ_WRITE);
            String range = Long.toHexString(map.address()) + "-";
            assertTrue(maps().contains(range), "mapped");
            map.close();
            map.close();
            assertFalse(map.isOpen());
            assertFalse(maps().contains(range), "unmapped");
            assertThrows(IllegalStateException.class, () -> map.segment().get(ValueLayout.JAVA_BYTE, 0));
        }
    }

    @Test
    void readOnlyMappingRefusesJavaWrites() throws Exception {
        try (Memfd m = Memfd.create("daxload-ro", PAGE);
             Mapping map = Mapping.map(m.fd(), 0, PAGE, Mapping.Access.READ)) {
            assertTrue(map.segment().isReadOnly());
            assertThrows(RuntimeException.class, () -> map.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 1));
        }
    }

    @Test
    void privateMappingDoesNotWriteThrough() throws Exception {
        try (Memfd m = Memfd.create("daxload-private", PAGE);
             Mapping map = Mapping.map(m.fd(), 0, PAGE, Mapping.Access.READ_WRITE, Mapping.Option.PRIVATE)) {
            map.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 5);
            assertEquals(0, m.fd().read(0, 1)[0]);
        }
    }

    @Test
    void badSizesAndOffsetsFailWithTheKernelsErrnoAndAHint() throws Exception {
        try (Memfd m = Memfd.create("daxload-bad", PAGE)) {
            LinuxException zero = assertThrows(LinuxException.class,
                    () -> Mapping.map(m.fd(), 0, 0, Mapping.Access.READ));
            assertEquals(Errno.EINVAL, zero.errno());
            assertTrue(zero.getMessage().startsWith("mmap(") && zero.getMessage().contains("EINVAL")
                    && zero.getMessage().contains("page size"), zero.getMessage());
            LinuxException odd = assertThrows(LinuxException.class,
                    () -> Mapping.map(m.fd(), 100, PAGE, Mapping.Access.READ));
            assertEquals(Errno.EINVAL, odd.errno());
            LinuxException huge = assertThrows(LinuxException.class,
                    () -> Mapping.map(m.fd(), 0, -PAGE, Mapping.Access.READ));
            assertEquals(Errno.ENOMEM, huge.errno());
        }
    }

    private static String maps() throws Exception {
        return Files.readString(Path.of("/proc/self/maps"));
    }
}
