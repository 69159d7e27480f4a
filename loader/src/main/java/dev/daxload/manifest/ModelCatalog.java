package dev.daxload.manifest;

import dev.daxload.image.DaxEntry;
import dev.daxload.image.DaxImage;
import dev.daxload.image.DaxInode;
import dev.daxload.manifest.internal.ManifestPrefetch;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The models of an image: every directory at the root that holds a {@code manifest.json}.
 *
 * <p>{@link #load} trusts nothing in the manifest: each tensor's range must lie inside the image and be
 * exactly the data of the tensor's own file in the image tree, so that a view made from the manifest's
 * offset alone reads what the filesystem (and the kernel's mount) would show.
 */
public final class ModelCatalog {
    private ModelCatalog() {}

    /** Names of the models in {@code image}, sorted. */
    public static List<String> models(DaxImage image) throws IOException {
        List<String> out = new ArrayList<>();
        for (DaxEntry e : image.list("/")) {
            if (e.inode().isDirectory()) {
                Optional<DaxInode> m = image.lookup(e.name() + "/" + ModelManifest.FILE_NAME);
                if (m.isPresent() && m.get().isRegularFile()) {
                    out.add(e.name());
                }
            }
        }
        return out;
    }

    /**
     * Reads, parses and checks the manifest of {@code model} against {@code image}.
     *
     * @throws ManifestException if there is no such model or the manifest is inconsistent with the image
     */
    public static ModelManifest load(DaxImage image, String model) throws IOException {
        return load(image, model, null);
    }

    /**
     * As {@link #load(DaxImage, String)}, taking the parse from {@code prefetch} (started on the image's
     * file before it was mapped) where it read exactly the bytes of the validated image's manifest file;
     * every check of the manifest against the image runs as always.
     *
     * <p>For daxload's own {@code ModelWeights.open}: the prefetch type is internal to daxload.
     *
     * @param prefetch from {@link ManifestPrefetch#start} for this image's file and model, or null
     */
    public static ModelManifest load(DaxImage image, String model, ManifestPrefetch prefetch) throws IOException {
        String path = model + "/" + ModelManifest.FILE_NAME;
        String where = image.source() + ":/" + path;
        DaxInode inode = image.lookup(path).orElseThrow(() -> new ManifestException(image.source()
                + ": no model '" + model + "' (no /" + path + "); models here: " + safeModels(image)));
        if (!inode.isRegularFile()) {
            throw new ManifestException(where + ": not a regular file");
        }
        if (inode.size() > ModelManifest.MAX_BYTES) {
            throw new ManifestException(where + ": manifest is " + inode.size() + " bytes, more than the " + ModelManifest.MAX_BYTES + " allowed");
        }
        // The bytes, their text and the entries take a few times the file's size: refuse before reading
        // what this JVM cannot hold, rather than end in an OutOfMemoryError.
        long budget = Runtime.getRuntime().maxMemory() / 4;
        if (inode.size() > budget / ModelManifest.HEAP_PER_BYTE) {
            throw new ManifestException(where + ": manifest is " + inode.size() + " bytes; reading it takes about "
                    + ModelManifest.HEAP_PER_BYTE + " bytes of heap per byte, over this JVM's budget of " + budget
                    + " bytes (a quarter of the maximum heap): raise -Xmx");
        }
        byte[] bytes = image.content(inode).toArray(ValueLayout.JAVA_BYTE);
        ModelManifest manifest = prefetch == null ? null : prefetch.forBytes(bytes);
        if (manifest == null) {
            manifest = ModelManifest.parse(bytes, where);
        }
        if (!manifest.name().equals(model)) {
            throw new ManifestException(where + ": field 'name' is '" + manifest.name() + "' but the model's directory is '" + model + "'");
        }
        long imageSize = image.segment().byteSize();
        String dir = model.concat("/");
        for (TensorEntry t : manifest.tensors()) {
            // Messages are built only on failure: in a fresh JVM a string concatenation per tensor is a
            // method-handle call in the interpreter, and this loop runs once per tensor.
            if (t.offset() > imageSize || t.length() > imageSize - t.offset()) {
                String at = at(where, t);
                throw new ManifestException(at + ": range [" + t.offset() + ", +" + t.length() + ") runs past the image (" + imageSize + " bytes)");
            }
            if (t.file().startsWith("/") || hasDotDot(t.file())) {
                throw new ManifestException(at(where, t) + ": file '" + t.file() + "' is not a plain relative path");
            }
            Optional<DaxInode> file = image.lookup(dir.concat(t.file()));
            if (file.isEmpty() || !file.get().isRegularFile()) {
                throw new ManifestException(at(where, t) + ": file '" + t.file() + "' is not a regular file of the image");
            }
            DaxInode f = file.get();
            if (f.size() != t.length()) {
                throw new ManifestException(at(where, t) + ": length " + t.length() + " but its file holds " + f.size() + " bytes");
            }
            if (t.length() > 0 && image.absoluteOffset(f.dataOffset()) != t.offset()) {
                throw new ManifestException(at(where, t) + ": offset " + t.offset() + " but its file's data is at " + image.absoluteOffset(f.dataOffset()));
            }
        }
        return manifest;
    }

    private static String at(String where, TensorEntry t) {
        return where + ": tensor '" + t.name() + "'";
    }

    /** Whether a path has a {@code ..} component. */
    private static boolean hasDotDot(String path) {
        return path.equals("..") || path.startsWith("../") || path.endsWith("/..") || path.contains("/../");
    }

    private static String safeModels(DaxImage image) {
        try {
            List<String> m = models(image);
            return m.isEmpty() ? "none" : String.join(", ", m);
        } catch (IOException e) {
            return "(unreadable)";
        }
    }
}
