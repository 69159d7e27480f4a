package dev.daxload.djl.onnx.internal;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.jar.JarFile;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The per-host copy of ONNX Runtime's native libraries, made from the real ORT jar on the test class
 * path (whether a fresh JVM then loads ORT from it is {@code OrtNativeLibraryCacheTest} in samples).
 */
class OrtNativeLibrariesTest {
    @TempDir Path tmp;

    @Test
    void extractsTheJarsLibrariesOnceIntoAPrivateDirectory() throws Exception {
        Path root = tmp.resolve("cache");
        Path dir = OrtNativeLibraries.prepare(root).orElseThrow();
        assertEquals(root, dir.getParent());
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
        Path jar = Path.of(ai.onnxruntime.OrtEnvironment.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        try (JarFile j = new JarFile(jar.toFile())) {
            for (String lib : OrtNativeLibraries.LIBRARIES) {
                String name = System.mapLibraryName(lib);
                var entry = j.getJarEntry("ai/onnxruntime/native/" + OrtNativeLibraries.platform().orElseThrow() + "/" + name);
                assertEquals(entry.getSize(), Files.size(dir.resolve(name)), name);
                assertEquals(entry.getCrc(), crc(dir.resolve(name)), name + ": the bytes are the jar's");
            }
        }
        try (var s = Files.list(dir)) {
            assertEquals(OrtNativeLibraries.LIBRARIES.size(), s.count(), "no temporary file left beside the libraries");
        }
        Path lib = dir.resolve(System.mapLibraryName("onnxruntime"));
        Object inode = Files.getAttribute(lib, "unix:ino");
        long mtime = Files.getLastModifiedTime(lib).toMillis();
        assertEquals(dir, OrtNativeLibraries.prepare(root).orElseThrow());
        assertEquals(inode, Files.getAttribute(lib, "unix:ino"), "the second process finds the file instead of writing it again");
        assertEquals(mtime, Files.getLastModifiedTime(lib).toMillis());
    }

    @Test
    void aMissingLibraryIsExtractedAgain() throws Exception {
        Path root = tmp.resolve("cache");
        Path dir = OrtNativeLibraries.prepare(root).orElseThrow();
        Path jni = dir.resolve(System.mapLibraryName("onnxruntime4j_jni"));
        long size = Files.size(jni);
        Files.delete(jni);
        assertEquals(dir, OrtNativeLibraries.prepare(root).orElseThrow());
        assertEquals(size, Files.size(jni));
    }

    @Test
    void refusesACacheThatOthersMayWriteTo() throws Exception {
        Path root = Files.createDirectory(tmp.resolve("shared"));
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxrwxrwx"));
        IOException e = assertThrows(IOException.class, () -> OrtNativeLibraries.prepare(root));
        assertTrue(e.getMessage().contains(root.toString()) && e.getMessage().contains("mode 777")
                && e.getMessage().contains("no one else may write"), e.getMessage());
        try (var s = Files.list(root)) {
            assertEquals(0, s.count(), "nothing written into a directory others may write to");
        }
    }

    @Test
    void refusesAKeyDirectoryThatIsASymlink() throws Exception {
        Path root = tmp.resolve("cache");
        Path dir = OrtNativeLibraries.prepare(root).orElseThrow();
        Path elsewhere = Files.move(dir, tmp.resolve("elsewhere"));
        Files.createSymbolicLink(dir, elsewhere);
        IOException e = assertThrows(IOException.class, () -> OrtNativeLibraries.prepare(root));
        assertTrue(e.getMessage().contains(dir.toString()) && e.getMessage().contains("not a directory"), e.getMessage());
    }

    private static long crc(Path f) throws IOException {
        CRC32 c = new CRC32();
        try (InputStream in = Files.newInputStream(f)) {
            byte[] b = new byte[1 << 16];
            for (int n; (n = in.read(b)) > 0; ) {
                c.update(b, 0, n);
            }
        }
        return c.getValue();
    }
}
