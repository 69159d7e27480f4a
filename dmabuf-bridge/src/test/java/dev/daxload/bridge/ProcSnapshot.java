package dev.daxload.bridge;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * What this process holds according to the kernel: its open fds ({@code /proc/self/fd}, by
 * link target) and its mappings ({@code /proc/self/maps}). Leak tests compare two snapshots.
 */
public record ProcSnapshot(List<String> fds, List<String> maps) {

    /** Fd targets and mapping lines that the bridge makes (the JVM makes none of these itself). */
    static final Predicate<String> BRIDGE_KINDS = s -> s.contains("memfd:") || s.contains("socket:")
            || s.contains("anon_inode:") || s.startsWith("/dmabuf:") || s.startsWith("/dev/udmabuf")
            || s.startsWith("/dev/dma_heap");

    public static ProcSnapshot take() throws IOException {
        List<String> fds = new ArrayList<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path p : dir) {
                try {
                    fds.add(Files.readSymbolicLink(p).toString());
                } catch (IOException gone) {
                    // the directory stream's own fd, closed by the time we read it
                }
            }
        }
        Collections.sort(fds);
        return new ProcSnapshot(fds, Files.readAllLines(Path.of("/proc/self/maps")));
    }

    public List<String> bridgeFds() {
        return fds.stream().filter(BRIDGE_KINDS).toList();
    }

    public List<String> mapsMatching(String needle) {
        return maps.stream().filter(l -> l.contains(needle)).toList();
    }

    /** @return a readable list of what {@code after} holds and {@code before} did not */
    public static String diff(List<String> before, List<String> after) {
        TreeMap<String, Integer> count = new TreeMap<>();
        after.forEach(s -> count.merge(s, 1, Integer::sum));
        before.forEach(s -> count.merge(s, -1, Integer::sum));
        StringBuilder sb = new StringBuilder();
        count.forEach((k, v) -> {
            if (v != 0) {
                sb.append(String.format("%+d %s%n", v, k));
            }
        });
        return sb.toString();
    }
}
