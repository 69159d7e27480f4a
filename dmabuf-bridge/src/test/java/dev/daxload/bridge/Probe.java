package dev.daxload.bridge;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What this machine offers; tests that need more skip with the reason. */
final class Probe {
    private Probe() {}

    static boolean hasFilesystem(String name) {
        try {
            return Files.readAllLines(Path.of("/proc/filesystems")).stream()
                    .anyMatch(l -> l.endsWith("\t" + name));
        } catch (IOException e) {
            return false;
        }
    }

    static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }
}
