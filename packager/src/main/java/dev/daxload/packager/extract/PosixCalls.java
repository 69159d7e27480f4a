package dev.daxload.packager.extract;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

/**
 * The two libc calls NIO lacks for restoring a file exactly: {@code chmod} with setuid, setgid and
 * sticky bits (NIO's POSIX permissions stop at rwx), and {@code lchown} on the symlink itself.
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

    private PosixCalls() {}

    static void chmod(Path path, int mode) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(STATE);
            int rc = (int) CHMOD.invokeExact(state, arena.allocateFrom(path.toString()), mode & 07777);
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
            int rc = (int) LCHOWN.invokeExact(state, arena.allocateFrom(path.toString()), (int) uid, (int) gid);
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
            throw new java.nio.file.FileSystemException(path.toString(), null, call + " failed with errno " + errno);
        }
    }
}
