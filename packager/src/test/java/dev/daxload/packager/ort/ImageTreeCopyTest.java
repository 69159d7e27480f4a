package dev.daxload.packager.ort;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.image.DaxImage;
import dev.daxload.image.DaxInode;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageTree;
import dev.daxload.packager.image.ImageWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What {@code prepack} copies of an image keeps its inodes: hard links to a file and to a symlink stay one inode. */
class ImageTreeCopyTest {
    @TempDir
    Path dir;

    @Test
    void hardLinksToFilesAndSymlinksStayOneInodeEach() throws Exception {
        ImageTree tree = new ImageTree();
        ImageTree.Attributes attrs = new ImageTree.Attributes(0644, 0, 0);
        ImageTree.Directory d = tree.root().directory("d", new ImageTree.Attributes(0755, 0, 0));
        ImageTree.RegularFile f = d.file("file", FileContent.of("bytes".getBytes(StandardCharsets.UTF_8)), attrs);
        d.link("file-again", f);
        ImageTree.Symlink s = d.symlink("sym", "file", new ImageTree.Attributes(0777, 0, 0));
        tree.root().link("sym-again", s);
        Path original = dir.resolve("original.daxfs");
        new ImageWriter().write(tree, original);

        Path copied = dir.resolve("copied.daxfs");
        try (DaxImage image = DaxImage.open(original)) {
            new ImageWriter().write(ImageTreeCopy.of(image, original, List.of()).tree(), copied);
        }
        try (DaxImage image = DaxImage.open(copied)) {
            DaxInode sym = image.lookup("d/sym").orElseThrow(); // lookup: the symlink itself, not followed
            DaxInode symAgain = image.lookup("sym-again").orElseThrow();
            assertTrue(symAgain.isSymlink(), "sym-again is the symlink itself, not what it points at");
            assertEquals(sym.ino(), symAgain.ino(), "one symlink inode with two names");
            assertEquals(2, sym.nlink());
            assertEquals("file", image.readSymlink(sym));
            DaxInode file = image.resolve("d/file");
            assertEquals(file.ino(), image.resolve("d/file-again").ino());
            assertEquals(2, file.nlink());
        }
    }
}
