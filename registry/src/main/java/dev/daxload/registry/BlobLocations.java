package dev.daxload.registry;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Where this user has pushed or pulled each blob ({@code digest registry repository} lines in
 * {@code blob-locations} in {@link #cacheDirectory}), so that a push to a second repository of the same registry asks
 * for a cross-repository mount instead of sending the bytes again. Only a hint: a registry that no longer has the
 * blob there answers the mount with an upload, which then goes ahead.
 */
final class BlobLocations {
    private final Path file;

    BlobLocations(Path file) {
        this.file = file;
    }

    static BlobLocations forUser(Map<String, String> env) {
        return new BlobLocations(cacheDirectory(env).resolve("blob-locations"));
    }

    /**
     * daxload's cache directory: the system property {@code daxload.cache.dir}, else
     * {@code $XDG_CACHE_HOME/daxload}, else {@code ~/.cache/daxload}.
     */
    static Path cacheDirectory(Map<String, String> env) {
        String property = System.getProperty("daxload.cache.dir");
        if (property != null) {
            return Path.of(property);
        }
        return Optional.ofNullable(env.get("XDG_CACHE_HOME")).map(Path::of)
                .orElseGet(() -> Path.of(System.getProperty("user.home"), ".cache")).resolve("daxload");
    }

    /** Repositories of {@code registry} other than {@code except} known to hold {@code digest}, newest first. */
    List<String> repositoriesHolding(String digest, String registry, String except) {
        List<String> found = new ArrayList<>();
        try {
            if (!Files.isRegularFile(file)) {
                return found;
            }
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            for (int i = lines.size() - 1; i >= 0; i--) {
                String[] f = lines.get(i).split(" ");
                if (f.length == 3 && f[0].equals(digest) && f[1].equals(registry) && !f[2].equals(except)
                        && !found.contains(f[2])) {
                    found.add(f[2]);
                }
            }
        } catch (IOException | RuntimeException e) {
            // a hint only: an unreadable file means no mount is tried
        }
        return found;
    }

    void remember(String digest, String registry, String repository) {
        try {
            Files.createDirectories(file.getParent());
            // one short line per append: concurrent writers do not interleave inside it
            Files.writeString(file, digest + " " + registry + " " + repository + "\n", StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            // a hint only: the next push sends the bytes
        }
    }
}
