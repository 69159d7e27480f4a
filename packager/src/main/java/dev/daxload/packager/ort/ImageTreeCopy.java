package dev.daxload.packager.ort;

import dev.daxload.image.DaxEntry;
import dev.daxload.image.DaxImage;
import dev.daxload.image.DaxInode;
import dev.daxload.manifest.ModelCatalog;
import dev.daxload.manifest.ModelManifest;
import dev.daxload.manifest.TensorEntry;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageTree;
import dev.daxload.packager.image.ImageTree.Attributes;
import dev.daxload.packager.image.ImageTree.Directory;
import dev.daxload.packager.image.ImageTree.RegularFile;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An existing image as an {@link ImageTree} to write again with more in it: every directory, symlink and
 * regular file with its mode and owner, hard links kept, file contents copied as ranges of the old image
 * file (byte for byte: tensors keep their checksums). Only the models' manifests change: they record
 * absolute offsets, so each becomes a late file that records where its tensors land in the new image.
 */
final class ImageTreeCopy {
    private ImageTreeCopy() {}

    /** The tree, and the model directories in it (by model name) for adding to. */
    record Copy(ImageTree tree, Map<String, Directory> models) {}

    /**
     * @param skip paths (without a leading slash) left out of the copy, with everything under them
     */
    static Copy of(DaxImage image, Path imageFile, List<String> skip) throws IOException {
        DaxInode root = image.root();
        ImageTree tree = new ImageTree(new Attributes(root.permissions(), root.uid(), root.gid()));
        Map<String, Directory> dirs = new HashMap<>();
        dirs.put("", tree.root());
        Map<Long, RegularFile> byInode = new HashMap<>();
        Map<Long, ImageTree.Symlink> symlinksByInode = new HashMap<>(); // hard links to one symlink stay one inode
        Map<String, RegularFile> files = new HashMap<>();
        List<String> models = ModelCatalog.models(image);
        List<DaxEntry> entries = new ArrayList<>();
        image.walk(entries::add);
        for (DaxEntry e : entries) {
            if (skip.stream().anyMatch(s -> e.path().equals(s) || e.path().startsWith(s + "/"))) {
                continue;
            }
            String parentPath = e.path().contains("/") ? e.path().substring(0, e.path().lastIndexOf('/')) : "";
            Directory parent = dirs.get(parentPath);
            DaxInode in = e.inode();
            Attributes attrs = new Attributes(in.permissions(), in.uid(), in.gid());
            if (in.isDirectory()) {
                dirs.put(e.path(), parent.directory(e.name(), attrs));
            } else if (in.isSymlink()) {
                ImageTree.Symlink existing = symlinksByInode.get(in.ino());
                symlinksByInode.put(in.ino(), existing != null ? parent.link(e.name(), existing)
                        : parent.symlink(e.name(), image.readSymlink(in), attrs));
            } else if (in.isRegularFile()) {
                RegularFile existing = byInode.get(in.ino());
                if (existing != null) {
                    files.put(e.path(), parent.link(e.name(), existing));
                    continue;
                }
                boolean manifest = parentPath.indexOf('/') < 0 && models.contains(parentPath)
                        && e.name().equals(ModelManifest.FILE_NAME);
                FileContent content = manifest ? manifest(image, parentPath, files)
                        : in.size() == 0 ? FileContent.of(new byte[0])
                        : FileContent.range(imageFile, image.absoluteOffset(in.dataOffset()), in.size());
                RegularFile f = parent.file(e.name(), content, attrs);
                byInode.put(in.ino(), f);
                files.put(e.path(), f);
            } else {
                throw new IOException(image.source() + ":/" + e.path() + ": mode " + Integer.toOctalString(in.mode())
                        + " is not a directory, regular file or symlink");
            }
        }
        Map<String, Directory> modelDirs = new HashMap<>();
        for (String m : models) {
            if (dirs.containsKey(m)) {
                modelDirs.put(m, dirs.get(m));
            }
        }
        return new Copy(tree, modelDirs);
    }

    /** The model's manifest, remade once the new layout is known: same entries, new absolute offsets. */
    private static FileContent manifest(DaxImage image, String model, Map<String, RegularFile> files) throws IOException {
        ModelManifest old = ModelCatalog.load(image, model);
        return FileContent.late(layout -> {
            List<TensorEntry> moved = new ArrayList<>(old.tensors().size());
            for (TensorEntry t : old.tensors()) {
                RegularFile node = files.get(model + "/" + t.file());
                if (node == null) {
                    throw new IOException(image.source() + ": model '" + model + "': tensor '" + t.name() + "' names file '"
                            + t.file() + "', which the image does not hold");
                }
                moved.add(new TensorEntry(t.name(), t.file(), t.dtype(), t.shape(), t.length() == 0 ? 0 : layout.offsetOf(node),
                        t.length(), t.crc32c()));
            }
            return new ModelManifest(old.name(), old.source(), old.metadata(), moved, old.files(), old.tables()).toJson();
        });
    }

    /** The bytes of a file of the image. */
    static byte[] read(DaxImage image, String path) throws IOException {
        return image.content(path).toArray(ValueLayout.JAVA_BYTE);
    }
}
