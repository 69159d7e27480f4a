package dev.daxload.djl.onnx.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * ONNX Runtime's native libraries, extracted once per host and user instead of once per process.
 *
 * <p>ORT's Java API ships {@code libonnxruntime.so} (20 MB) inside its jar and, unless told otherwise,
 * inflates it into a fresh temporary directory on every JVM start, loads it and deletes it: about 90 ms
 * of CPU before the first session of every process, and a private page-cache copy of the library per
 * process. ORT reads the system property {@code onnxruntime.native.path} (a directory holding the
 * libraries) before it does so. This class extracts the libraries of the ORT jar on the class path into
 * DJL's engine cache directory ({@code ~/.djl.ai/onnxruntime/}, or {@code ENGINE_CACHE_DIR}/{@code
 * DJL_CACHE_DIR}; DJL keeps PyTorch's native libraries there the same way), in a directory named after
 * the jar (name, size, modification time), and points that property at it. Later processes find the files and
 * skip the inflation, and every process maps the same library file.
 *
 * <p>Nothing is done where the user already chose (the property, or one of ORT's per-library
 * {@code onnxruntime.native.<lib>.path} properties, is set), where {@code -Ddaxload.ortNativeCache=false},
 * where the libraries are not in a jar for this platform, or where the cache directory is not this
 * user's own and private to it (another user could otherwise plant a library there). A failure only
 * logs: ORT then extracts its libraries as it always does.
 */
public final class OrtNativeLibraries {
    private static final Logger LOG = LoggerFactory.getLogger(OrtNativeLibraries.class);
    /** ORT's own property: the directory it loads its native libraries from. */
    public static final String NATIVE_PATH = "onnxruntime.native.path";
    /** Set to {@code false} to leave ORT's native library loading as ORT does it. */
    public static final String SWITCH = "daxload.ortNativeCache";
    /** What ORT's loader looks for, in the order it loads them. */
    static final List<String> LIBRARIES = List.of("onnxruntime", "onnxruntime4j_jni");

    private static volatile boolean done;

    private OrtNativeLibraries() {}

    /**
     * Points ONNX Runtime at the cached libraries (extracting them first if this host has none yet),
     * once per JVM; must run before ORT's classes load their library to have an effect.
     *
     * @return the directory ORT will load from, or empty when ORT is left to extract its libraries itself
     */
    public static synchronized Optional<Path> useCache() {
        if (done) {
            return Optional.ofNullable(System.getProperty(NATIVE_PATH)).map(Path::of);
        }
        done = true;
        if (!Boolean.parseBoolean(System.getProperty(SWITCH, "true")) || userChose()) {
            return Optional.empty();
        }
        long t0 = System.nanoTime();
        try {
            Optional<Path> dir = prepare(ai.djl.util.Utils.getEngineCacheDir("onnxruntime"));
            dir.ifPresent(d -> System.setProperty(NATIVE_PATH, d.toString()));
            LOG.debug("daxfs: ONNX Runtime's native libraries from {} ({} us)", dir.map(Path::toString).orElse("ORT's jar"),
                    (System.nanoTime() - t0) / 1000);
            return dir;
        } catch (IOException | RuntimeException e) {
            LOG.warn("daxfs: ONNX Runtime's native libraries not cached ({}); ORT extracts them itself", e.toString());
            return Optional.empty();
        }
    }

    private static boolean userChose() {
        if (System.getProperty(NATIVE_PATH) != null) {
            return true;
        }
        for (String lib : LIBRARIES) {
            if (System.getProperty("onnxruntime.native." + lib + ".path") != null
                    || System.getProperty("onnxruntime.native." + lib + ".skip") != null) {
                return true;
            }
        }
        return false;
    }

    /**
     * The directory under {@code cacheRoot} holding the libraries of the ORT jar on the class path,
     * extracted now where missing; empty when ORT's classes do not come from a jar with libraries for
     * this platform. The directory is named after the jar's file name, size and modification time, so
     * that a process finding the files needs two {@code stat}s of the jar and none of its contents.
     */
    static Optional<Path> prepare(Path cacheRoot) throws IOException {
        Optional<String> platform = platform();
        if (platform.isEmpty()) {
            return Optional.empty();
        }
        // The class is loaded, not initialized: ORT's static initializer, which loads the library, stays unrun.
        java.security.CodeSource source = ai.onnxruntime.OrtEnvironment.class.getProtectionDomain().getCodeSource();
        if (source == null || source.getLocation() == null || !"file".equals(source.getLocation().getProtocol())) {
            return Optional.empty();
        }
        Path jar;
        try {
            jar = Path.of(source.getLocation().toURI());
        } catch (java.net.URISyntaxException | IllegalArgumentException e) {
            return Optional.empty();
        }
        if (!Files.isRegularFile(jar)) {
            return Optional.empty(); // an exploded class path: ORT copies from a plain file, nothing to gain
        }
        String name = jar.getFileName().toString().replaceFirst("\\.jar$", "");
        Path dir = cacheRoot.resolve("native-" + platform.get() + "-" + name + "-" + Files.size(jar) + "-"
                + Files.getLastModifiedTime(jar).toMillis());
        Path[] files = new Path[LIBRARIES.size()];
        boolean all = Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS);
        for (int i = 0; i < files.length; i++) {
            files[i] = dir.resolve(System.mapLibraryName(LIBRARIES.get(i)));
            all &= Files.isRegularFile(files[i], LinkOption.NOFOLLOW_LINKS);
        }
        if (all) {
            checkPrivate(cacheRoot);
            checkPrivate(dir);
            return Optional.of(dir); // each file was renamed into place whole by an earlier process
        }
        try (JarFile j = new JarFile(jar.toFile())) {
            List<JarEntry> entries = new java.util.ArrayList<>();
            for (String lib : LIBRARIES) {
                JarEntry e = j.getJarEntry("ai/onnxruntime/native/" + platform.get() + "/" + System.mapLibraryName(lib));
                if (e == null) {
                    return Optional.empty();
                }
                entries.add(e);
            }
            privateDirectory(cacheRoot);
            privateDirectory(dir);
            for (int i = 0; i < entries.size(); i++) {
                if (!Files.isRegularFile(files[i], LinkOption.NOFOLLOW_LINKS)) {
                    extract(j, entries.get(i), files[i]);
                }
            }
        }
        return Optional.of(dir);
    }

    /** ORT's name for this platform's resource directory ({@code linux-x64}, {@code linux-aarch64}), or empty elsewhere. */
    static Optional<String> platform() {
        if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
            return Optional.empty();
        }
        return switch (System.getProperty("os.arch", "")) {
            case "amd64", "x86_64" -> Optional.of("linux-x64");
            case "aarch64" -> Optional.of("linux-aarch64");
            default -> Optional.empty();
        };
    }

    /** Creates {@code dir} (mode 700) where missing, then checks it. */
    private static void privateDirectory(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            try {
                Files.createDirectories(dir.getParent());
                Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            } catch (java.nio.file.FileAlreadyExistsException raced) {
                // made by another process meanwhile: checked below like any existing one
            }
        }
        checkPrivate(dir);
    }

    /** Checks that {@code dir} is a directory of this user's that no one else may write to. */
    private static void checkPrivate(Path dir) throws IOException {
        // unix:uid and unix:mode: no user-name lookup, which a cold JVM pays for in classes and a getpwuid.
        int uid = (Integer) Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        int mode = (Integer) Files.getAttribute(dir, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        int me = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        boolean directory = (mode & 0170000) == 0040000;
        if (!directory || uid != me || (mode & 0022) != 0) {
            throw new IOException(dir + ": " + (directory ? "a directory" : "not a directory") + " of uid " + uid + ", mode "
                    + Integer.toOctalString(mode & 07777) + "; expected a directory of uid " + me + " that no one else may write to");
        }
    }

    /** Inflates {@code entry} into {@code target} through a temporary file renamed into place, so no process sees half a library. */
    private static void extract(JarFile jar, JarEntry entry, Path target) throws IOException {
        Path tmp = Files.createTempFile(target.getParent(), target.getFileName() + ".", ".part");
        try {
            try (InputStream in = jar.getInputStream(entry)) {
                long n = Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                if (entry.getSize() >= 0 && n != entry.getSize()) {
                    throw new IOException(jar.getName() + "!/" + entry.getName() + ": read " + n + " bytes, the jar says " + entry.getSize());
                }
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            LOG.debug("daxfs: extracted {}!/{} to {} once for this host", jar.getName(), entry.getName(), target);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
