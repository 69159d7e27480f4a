package dev.daxload.bridge.memfd;

import dev.daxload.bridge.linux.Errno;
import dev.daxload.bridge.linux.LinuxConstants;
import dev.daxload.bridge.linux.LinuxException;
import dev.daxload.bridge.linux.NativeFd;
import dev.daxload.bridge.mmap.Mapping;
import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MemfdTest {
    private static final long PAGE = LinuxConstants.PAGE_SIZE;

    @Test
    void writeThenMapReadsTheSameBytesAndMappedWritesShowInRead() throws Exception {
        byte[] msg = "weights go here".getBytes(StandardCharsets.UTF_8);
        try (Memfd m = Memfd.create("daxload-roundtrip", 2 * PAGE)) {
            assertEquals(2 * PAGE, m.size());
            m.fd().write(msg, PAGE + 5);
            try (Mapping map = Mapping.map(m.fd(), 0, 2 * PAGE, Mapping.Access.READ_WRITE, Mapping.Option.POPULATE)) {
                byte[] seen = map.segment().asSlice(PAGE + 5, msg.length).toArray(ValueLayout.JAVA_BYTE);
                assertArrayEquals(msg, seen);
                map.segment().set(ValueLayout.JAVA_LONG_UNALIGNED, 100, 0x1122334455667788L);
            }
            byte[] back = m.fd().read(100, 8);
            assertEquals(0x1122334455667788L, java.nio.ByteBuffer.wrap(back).order(java.nio.ByteOrder.nativeOrder()).getLong());
        }
    }

    @Test
    void theFdShowsInProcWithItsName() throws Exception {
        try (Memfd m = Memfd.create("daxload-named", PAGE)) {
            Path link = Path.of("/proc/self/fd/" + m.fd().fd());
            assertTrue(Files.readSymbolicLink(link).toString().startsWith("/memfd:daxload-named"),
                    Files.readSymbolicLink(link).toString());
        }
    }

    @Test
    void twoMappingsShareThePagesWithoutCopy() throws Exception {
        try (Memfd m = Memfd.create("daxload-twice", PAGE);
             Mapping a = Mapping.map(m.fd(), 0, PAGE, Mapping.Access.READ_WRITE);
             Mapping b = Mapping.map(m.fd(), 0, PAGE, Mapping.Access.READ)) {
            assertTrue(a.address() != b.address(), "two distinct virtual ranges");
            for (int i = 0; i < 16; i++) {
                a.segment().set(ValueLayout.JAVA_INT, i * 256L, i * 31 + 7);
            }
            for (int i = 0; i < 16; i++) {
                assertEquals(i * 31 + 7, b.segment().get(ValueLayout.JAVA_INT, i * 256L));
            }
        }
    }

    @Test
    void aMappingOutlivesItsFd() throws Exception {
        Memfd m = Memfd.create("daxload-outlive", PAGE);
        try (Mapping a = Mapping.map(m.fd(), 0, PAGE, Mapping.Access.READ_WRITE)) {
            m.close();
            a.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 42);
            assertEquals(42, a.segment().get(ValueLayout.JAVA_BYTE, 0));
        }
    }

    @Test
    void sealsAreEnforcedByTheKernel() throws Exception {
        try (Memfd m = Memfd.create("daxload-seals", 2 * PAGE)) {
            assertEquals(EnumSet.noneOf(Seal.class), m.seals());
            m.addSeals(Seal.SHRINK, Seal.GROW);
            assertEquals(EnumSet.of(Seal.SHRINK, Seal.GROW), m.seals());
            LinuxException shrink = assertThrows(LinuxException.class, () -> m.resize(PAGE));
            assertEquals(Errno.EPERM, shrink.errno());
            assertTrue(shrink.getMessage().contains("ftruncate") && shrink.getMessage().contains("EPERM"), shrink.getMessage());
            assertThrows(LinuxException.class, () -> m.resize(4 * PAGE));

            // F_SEAL_WRITE is refused while a writable shared mapping exists...
            try (Mapping w = Mapping.map(m.fd(), 0, PAGE, Mapping.Access.READ_WRITE)) {
                w.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 1);
                LinuxException busy = assertThrows(LinuxException.class, () -> m.addSeals(Seal.WRITE));
                assertEquals(Errno.EBUSY, busy.errno());
                assertEquals("EBUSY", busy.errnoName());
            }
            // ... and accepted once it is gone; then writes fail.
            m.addSeals(Seal.WRITE, Seal.SEAL);
            assertEquals(EnumSet.allOf(Seal.class), m.seals());
            LinuxException write = assertThrows(LinuxException.class, () -> m.fd().write(new byte[] {2}, 0));
            assertEquals(Errno.EPERM, write.errno());
            LinuxException more = assertThrows(LinuxException.class, () -> m.addSeals(Seal.GROW));
            assertTrue(more.getMessage().contains("F_SEAL_SEAL"), more.getMessage());
            assertEquals(1, m.fd().read(0, 1)[0]);
        }
    }

    @Test
    void closeClosesExactlyOnceEvenWhenTheNumberIsReused() throws Exception {
        Memfd a = Memfd.create("daxload-once-a", PAGE);
        int number = a.fd().fd();
        a.close();
        assertFalse(a.fd().isOpen());
        try (Memfd b = Memfd.create("daxload-once-b", PAGE)) {
            // The kernel hands out the lowest free number, so b usually reuses a's.
            a.close();
            a.fd().close();
            assertEquals(PAGE, b.size(), "b is still open");
            if (b.fd().fd() == number) {
                assertTrue(Files.exists(Path.of("/proc/self/fd/" + number)));
            }
        }
        assertThrows(IllegalStateException.class, () -> a.fd().fd());
    }

    @Test
    void dupGivesAnIndependentlyOwnedFdOfTheSameFile() throws Exception {
        try (Memfd m = Memfd.create("daxload-dup", PAGE)) {
            NativeFd d = m.fd().dup();
            try (d) {
                assertTrue(d.fd() != m.fd().fd());
                d.write(new byte[] {9}, 3);
            }
            assertEquals(9, m.fd().read(3, 1)[0]);
        }
    }

    @Test
    void aNameWithNulIsRefusedBeforeTheCall() {
        assertThrows(IllegalArgumentException.class, () -> Memfd.create("bad\0name", 1));
    }
}
