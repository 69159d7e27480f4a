package dev.daxload.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.daxload.image.DaxEntry;
import dev.daxload.image.DaxImage;
import dev.daxload.image.DaxInode;
import java.util.ArrayDeque;
import java.util.List;

/** {@code ls --json}: every entry listed, with its full path and all of its inode's fields (docs/cli-json.md). */
final class LsJson {
    private LsJson() {}

    /**
     * The document for {@code target}: its entries (with {@code recursive}, those of every directory below
     * it too, depth first in name order), or the one entry {@code target} is when it is not a directory.
     */
    static JsonObject document(DaxImage image, String imageName, String path, DaxInode target, boolean recursive) {
        JsonObject doc = JsonOutput.document("ls");
        doc.addProperty("image", imageName);
        doc.addProperty("path", path);
        JsonArray entries = new JsonArray();
        if (!target.isDirectory()) {
            String p = path.replaceAll("^/+|/+$", "");
            entries.add(entry(image, new DaxEntry(p.substring(p.lastIndexOf('/') + 1), p, target)));
        } else {
            ArrayDeque<DaxInode> stack = new ArrayDeque<>();
            stack.push(target);
            while (!stack.isEmpty()) {
                List<DaxEntry> list = image.list(stack.pop());
                for (DaxEntry e : list) {
                    entries.add(entry(image, e));
                }
                if (recursive) {
                    for (int i = list.size() - 1; i >= 0; i--) {
                        if (list.get(i).inode().isDirectory()) {
                            stack.push(list.get(i).inode());
                        }
                    }
                }
            }
        }
        doc.add("entries", entries);
        return doc;
    }

    private static JsonObject entry(DaxImage image, DaxEntry e) {
        DaxInode n = e.inode();
        JsonObject o = new JsonObject();
        o.addProperty("name", e.name());
        o.addProperty("path", "/" + e.path());
        o.addProperty("type", n.isDirectory() ? "directory" : n.isSymlink() ? "symlink" : n.isRegularFile() ? "file" : "other");
        o.addProperty("mode", n.modeString());
        o.addProperty("permissions", String.format("%04o", n.permissions()));
        o.addProperty("inode", n.ino());
        o.addProperty("links", n.nlink());
        o.addProperty("uid", n.uid());
        o.addProperty("gid", n.gid());
        o.addProperty("size", n.isDirectory() ? n.entryCount() * dev.daxload.image.internal.DaxfsLayout.DIRENT_SIZE_UNIT : n.size());
        if (n.isSymlink()) {
            o.addProperty("target", image.readSymlink(n));
        }
        return o;
    }
}
