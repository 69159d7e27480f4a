package dev.daxload.packager.extract;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import dev.daxload.packager.image.HostPaths;

/**
 * The libc calls NIO lacks for restoring a file exactly: {@code chmod} with setuid, setgid and
 * sticky bits (NIO's POSIX permissions stop at rwx), {@code lchown} on the symlink itself, and
 * {@code symlink} with the target's bytes as stored (a {@code Path} target loses a trailing or doubled
 * slash and bytes that are not UTF-8). Paths go to the kernel as their bytes ({@link HostPaths}).
 */
final class PosixCalls {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");
    private static final java.lang.foreign.StructLayout STATE = Linker.Option.captureStateLayout();
    private static final java.lang.invoke.VarHandle ERRNO_HANDLE =
            STATE.varHandle(java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle CHMOD = LINKER.downcallHandle(
            LINKER.defaultLookup().find("chmod").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT), ERRNO);
    private static final MethodHandle LCHOWN = LINKER.downcallHandle(
            LINKER.defaultLookup().find("lchown").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT), ERRNO);

    private static final MethodHandle SYMLINK = LINKER.downcallHandle(
            LINKER.defaultLookup().find("symlink").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS), ERRNO);

    private PosixCalls() {}

    /** Creates the symlink {@code link} pointing at {@code target}, byte for byte. */
    static void symlink(byte[] target, Path link) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(STATE);
            int rc = (int) SYMLINK.invokeExact(state, cString(arena, target), cString(arena, HostPaths.absoluteBytes(link)));
            check(rc, state, "symlink", link);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(t);
        }
    }

    private static MemorySegment cString(Arena arena, byte[] bytes) {
        MemorySegment s = arena.allocate(bytes.length + 1L); // zeroed: the last byte is the NUL
        MemorySegment.copy(bytes, 0, s, ValueLayout.JAVA_BYTE, 0, bytes.length);
        return s;
    }

    static void chmod(Path path, int mode) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(STATE);
            int rc = (int) CHMOD.invokeExact(state, cString(arena, HostPaths.absoluteBytes(path)), mode & 07777);
            check(rc, state, "chmod", path);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(t);
        }
    }

    static void lchown(Path path, long uid, long gid) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(STATE);
            int rc = (int) LCHOWN.invokeExact(state, cString(arena, HostPaths.absoluteBytes(path)), (int) uid, (int) gid);
            check(rc, state, "lchown", path);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(t);
        }
    }

    private static void check(int rc, MemorySegment state, String call, Path path) throws IOException {
        if (rc != 0) {
            int errno = (int) ERRNO_HANDLE.get(state, 0L);
            String why = errno == 17 ? "already exists; extract does not overwrite" : call + " failed with errno " + errno;
            throw new java.nio.file.FileSystemException(HostPaths.display(path), null, why);
        }
    }
}
