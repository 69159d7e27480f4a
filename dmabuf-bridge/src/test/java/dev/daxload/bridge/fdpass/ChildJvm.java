package dev.daxload.bridge.fdpass;

import dev.daxload.bridge.linux.NativeFd;
import dev.daxload.bridge.memfd.Memfd;
import dev.daxload.bridge.mmap.Mapping;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The other process of the fd-passing tests: a second JVM started with the test class path.
 * It talks on stdout ("LISTENING", "READY pid fd"), so the parent waits on a pipe, which ends
 * when the child dies, rather than on a socket that might never connect.
 */
public final class ChildJvm {
    static final String PARENT_TEXT = "written by the parent JVM";
    static final String CHILD_TEXT = "written by the child JVM";
    static final String CHILD_MEMFD_TEXT = "a memfd made in the child";
    static final long REPLY_OFFSET = 4096;

    private ChildJvm() {}

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "serve" -> serve(Path.of(args[1]));
            case "hold" -> hold();
            default -> throw new IllegalArgumentException(args[0]);
        }
    }

    /** Receives a memfd, checks the parent's bytes, writes a reply into the same pages, sends back a memfd of its own. */
    private static void serve(Path socket) throws Exception {
        try (UnixSocket listener = UnixSocket.listen(socket)) {
            System.out.println("LISTENING");
            System.out.flush();
            try (UnixSocket conn = listener.accept();
                 UnixSocket.Message msg = conn.receiveFds(64, 4)) {
                if (msg.fds().size() != 1 || !new String(msg.data(), StandardCharsets.UTF_8).equals("memfd")) {
                    throw new IllegalStateException("unexpected message: " + msg);
                }
                NativeFd shared = msg.fds().getFirst();
                try (Mapping map = Mapping.map(shared, 0, shared.size(), Mapping.Access.READ_WRITE)) {
                    String seen = readString(map.segment(), 0, PARENT_TEXT.length());
                    if (!seen.equals(PARENT_TEXT)) {
                        throw new IllegalStateException("child saw '" + seen + "'");
                    }
                    map.segment().asSlice(REPLY_OFFSET).copyFrom(MemorySegment.ofArray(CHILD_TEXT.getBytes(StandardCharsets.UTF_8)));
                }
                try (Memfd own = Memfd.create("daxload-child-made", 4096)) {
                    own.fd().write(CHILD_MEMFD_TEXT.getBytes(StandardCharsets.UTF_8), 0);
                    conn.sendFds("done".getBytes(StandardCharsets.UTF_8), own.fd());
                }
                // Wait for the parent to hang up, so our fds stay valid until it has read them.
                conn.receiveFds(1, 0);
            }
        }
    }

    /** Keeps a memfd open and says where it is; waits for a line on stdin, then exits. */
    private static void hold() throws IOException {
        try (Memfd m = Memfd.create("daxload-held-by-child", 4096)) {
            m.fd().write(CHILD_MEMFD_TEXT.getBytes(StandardCharsets.UTF_8), 0);
            System.out.println("READY " + ProcessHandle.current().pid() + " " + m.fd().fd());
            System.out.flush();
            new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
        }
    }

    static String readString(MemorySegment seg, long off, int len) {
        return new String(seg.asSlice(off, len).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
    }

    /** Starts {@code java ... ChildJvm args} with this JVM's binary and class path. */
    static Process start(String... args) throws IOException {
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xmx64m",
                "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), ChildJvm.class.getName()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }
}
