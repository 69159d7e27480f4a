package dev.daxload.bridge.fdpass;

import dev.daxload.bridge.linux.Errno;
import dev.daxload.bridge.linux.LinuxException;
import dev.daxload.bridge.linux.NativeFd;
import dev.daxload.bridge.memfd.Memfd;
import dev.daxload.bridge.mmap.Mapping;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FdPassingTest {

    @Test
    void aPassedFdIsTheSameFileUnderANewNumber() throws Exception {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]; Memfd m = Memfd.create("daxload-pair", 4096)) {
            a.sendFds(new byte[] {7}, m.fd(), m.fd());
            try (UnixSocket.Message msg = b.receiveFds(16, 4)) {
                assertEquals(1, msg.data().length);
                assertEquals(2, msg.fds().size());
                NativeFd got = msg.fds().getFirst();
                assertNotEquals(m.fd().fd(), got.fd());
                got.write("via the copy".getBytes(StandardCharsets.UTF_8), 0);
                assertEquals("via the copy", new String(m.fd().read(0, 12), StandardCharsets.UTF_8));
                assertTrue(Files.readSymbolicLink(Path.of("/proc/self/fd/" + got.fd())).toString().startsWith("/memfd:daxload-pair"));
            }
        }
    }

    @Test
    void moreFdsThanTheReceiverAcceptsAreAllClosed() throws Exception {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]; Memfd m = Memfd.create("daxload-overflow", 4096)) {
            long before = countFdsNamed("daxload-overflow");
            a.sendFds(new byte[] {1}, m.fd(), m.fd(), m.fd());
            LinuxException e = assertThrows(LinuxException.class, () -> b.receiveFds(4, 2));
            assertEquals(Errno.EMSGSIZE, e.errno());
            assertTrue(e.getMessage().contains("larger maxFds"), e.getMessage());
            assertEquals(before, countFdsNamed("daxload-overflow"), "no received fd is left open");
        }
    }

    @Test
    void connectingWhereNobodyListensSaysSo(@TempDir Path dir) {
        LinuxException e = assertThrows(LinuxException.class, () -> UnixSocket.connect(dir.resolve("nobody")));
        assertEquals(Errno.ENOENT, e.errno());
        assertTrue(e.getMessage().contains("start the receiving side first"), e.getMessage());
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void aMemfdPassedToAnotherJvmSharesItsPages(@TempDir Path dir) throws Exception {
        Path sock = dir.resolve("s");
        Process child = ChildJvm.start("serve", sock.toString());
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            assertEquals("LISTENING", out.readLine(), "the child JVM started and listens");
            try (Memfd m = Memfd.create("daxload-to-child", 8192);
                 Mapping map = Mapping.map(m.fd(), 0, 8192, Mapping.Access.READ_WRITE);
                 UnixSocket conn = UnixSocket.connect(sock)) {
                map.segment().copyFrom(MemorySegment.ofArray(ChildJvm.PARENT_TEXT.getBytes(StandardCharsets.UTF_8)));
                conn.sendFds("memfd".getBytes(StandardCharsets.UTF_8), m.fd());
                try (UnixSocket.Message reply = conn.receiveFds(16, 4)) {
                    assertEquals("done", new String(reply.data(), StandardCharsets.UTF_8), "the child finished (it checked our bytes)");
                    // The child wrote into the pages we still have mapped: no copy went anywhere.
                    assertEquals(ChildJvm.CHILD_TEXT, ChildJvm.readString(map.segment(), ChildJvm.REPLY_OFFSET, ChildJvm.CHILD_TEXT.length()));
                    assertEquals(1, reply.fds().size());
                    NativeFd theirs = reply.fds().getFirst();
                    assertEquals(ChildJvm.CHILD_MEMFD_TEXT,
                            new String(theirs.read(0, ChildJvm.CHILD_MEMFD_TEXT.length()), StandardCharsets.UTF_8));
                }
            }
            assertTrue(child.waitFor(60, TimeUnit.SECONDS), "child exits after we hang up");
            assertEquals(0, child.exitValue());
        } finally {
            child.destroyForcibly();
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void pidfdGetfdTakesAnFdOutOfAnotherProcess() throws Exception {
        Process child = ChildJvm.start("hold");
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String line = out.readLine();
            assertTrue(line != null && line.startsWith("READY "), "child said: " + line);
            String[] parts = line.split(" ");
            long pid = Long.parseLong(parts[1]);
            int fd = Integer.parseInt(parts[2]);
            assertEquals(child.pid(), pid);
            try (NativeFd stolen = Pidfd.getFd(pid, fd)) {
                assertTrue(Files.readSymbolicLink(Path.of("/proc/self/fd/" + stolen.fd())).toString()
                        .startsWith("/memfd:daxload-held-by-child"));
                try (Mapping map = Mapping.map(stolen, 0, 4096, Mapping.Access.READ)) {
                    assertEquals(ChildJvm.CHILD_MEMFD_TEXT, ChildJvm.readString(map.segment(), 0, ChildJvm.CHILD_MEMFD_TEXT.length()));
                }
            }
            LinuxException noFd = assertThrows(LinuxException.class, () -> Pidfd.getFd(pid, 100_000));
            assertEquals(Errno.EBADF, noFd.errno());
            assertTrue(noFd.getMessage().contains("has no fd 100000"), noFd.getMessage());
            child.getOutputStream().write('\n');
            child.getOutputStream().flush();
            assertTrue(child.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, child.exitValue());
            LinuxException gone = assertThrows(LinuxException.class, () -> Pidfd.getFd(pid, fd));
            assertEquals(Errno.ESRCH, gone.errno(), gone.getMessage());
        } finally {
            child.destroyForcibly();
        }
    }

    static long countFdsNamed(String name) throws Exception {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.filter(p -> {
                try {
                    return Files.readSymbolicLink(p).toString().contains(name);
                } catch (Exception e) {
                    return false;
                }
            }).count();
        }
    }

    @Test
    void anEmptyMessageIsRefusedBeforeTheCall() throws Exception {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]) {
            assertThrows(IllegalArgumentException.class, () -> a.sendFds(new byte[0]));
            a.close();
            try (UnixSocket.Message m = b.receiveFds(1, 0)) {
                assertTrue(m.endOfStream());
            }
            assertFalse(a.fd().isOpen());
        }
    }
}
