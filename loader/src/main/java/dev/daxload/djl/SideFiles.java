package dev.daxload.djl;

import dev.daxload.djl.internal.TempDirectories;
import dev.daxload.image.internal.ImageFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A model's side files (an ONNX graph without its weights, a tokenizer: never its tensors), written
 * for one load into a directory of their own under {@code java.io.tmpdir} (or the system property
 * {@code daxload.sideFiles.dir}), because engines open graphs by path. The directory goes when the
 * model that was loaded from it closes ({@link #delete}), or when the JVM exits for one that no model
 * took; nothing is left in DJL's cache, whose root may be read-only.
 */
final class SideFiles {
    /** Directories written and not yet deleted, removed at exit whatever happened to their loads. */
    private static final Set<Path> LIVE = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(SideFiles::deleteQuietly), "daxload-side-files"));
    }

    private SideFiles() {}

    /** Writes the side files of {@code model} ({@code files/...}, as its manifest lists them) into a new directory and returns it. */
    static Path write(ImageFiles image, String model, List<String> files) throws IOException {
        Path root = Path.of(System.getProperty("daxload.sideFiles.dir", System.getProperty("java.io.tmpdir")));
        Path dir;
        try {
            dir = TempDirectories.create(root, "daxfs-" + plainName(model) + "-");
        } catch (IOException e) {
            throw new IOException("daxfs: cannot make a directory for the side files of model '" + model + "' of " + image.source()
                    + " in " + root + " (" + e + "); point the system property daxload.sideFiles.dir or java.io.tmpdir at a writable directory", e);
        }
        LIVE.add(dir);
        try {
            for (String file : files) {
                checkListed(image.source(), model, file);
                Path out = dir.resolve(file.substring("files/".length())).normalize();
                if (!out.startsWith(dir) || out.equals(dir)) {
                    throw new IOException(image.source() + ": side file '" + file + "' would land outside " + dir);
                }
                Files.createDirectories(out.getParent());
                try {
                    image.copy(model + "/" + file, out);
                } catch (IllegalArgumentException e) {
                    throw new IOException(image.source() + ": model '" + model + "' lists side file '" + file + "': " + e.getMessage(), e);
                }
            }
        } catch (IOException | RuntimeException e) {
            delete(dir);
            throw e;
        }
        return dir;
    }

    /** {@code name} with every character but ASCII letters, digits, '.', '_' and '-' made '_' (no regex: a fresh JVM's first costs). */
    static String plainName(String name) {
        char[] c = name.toCharArray();
        for (int i = 0; i < c.length; i++) {
            boolean plain = c[i] < 128 && (Character.isLetterOrDigit(c[i]) || c[i] == '.' || c[i] == '_' || c[i] == '-');
            if (!plain) {
                c[i] = '_';
            }
        }
        return new String(c);
    }

    /**
     * Refuses a side file the manifest lists that is not a plain path below {@code files/}: the one rule for side
     * files, whether they are copied out of the image or served by a mount.
     *
     * @param source the image or mount, as the message names it
     */
    static void checkListed(String source, String model, String file) throws IOException {
        if (!file.startsWith("files/") || !plainRelative(file.substring("files/".length()))) {
            throw new IOException(source + ": model '" + model + "' lists side file '" + file
                    + "': a side file is a plain path under files/ (no empty, '.' or '..' parts)");
        }
    }

    /** Whether {@code path} names something below a directory: no empty, {@code .} or {@code ..} components. */
    static boolean plainRelative(String path) {
        if (path.isEmpty() || path.startsWith("/")) {
            return false;
        }
        for (String part : path.split("/", -1)) {
            if (part.isEmpty() || part.equals(".") || part.equals("..")) {
                return false;
            }
        }
        return true;
    }

    /** Removes a directory this class wrote, and everything in it. */
    static void delete(Path dir) {
        try {
            if (Files.exists(dir)) {
                Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                    @Override
                    public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                        Files.delete(file);
                        return FileVisitResult.CONTINUE;
                    }

                    @Override
                    public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                        Files.delete(d);
                        return FileVisitResult.CONTINUE;
                    }
                });
            }
            LIVE.remove(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("daxfs: cannot remove side files in " + dir, e);
        }
    }

    private static void deleteQuietly(Path dir) {
        try {
            delete(dir);
        } catch (UncheckedIOException ignored) {
            // at exit: nothing more to do
        }
    }
}
