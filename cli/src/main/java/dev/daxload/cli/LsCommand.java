package dev.daxload.cli;

import dev.daxload.image.DaxEntry;
import dev.daxload.image.DaxImage;
import dev.daxload.image.DaxInode;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "ls", mixinStandardHelpOptions = true, description = "List a directory of an image, like ls.")
final class LsCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IMAGE")
    Path imagePath;

    @Parameters(index = "1", paramLabel = "PATH", defaultValue = "/", description = "path inside the image (default: the root)")
    String path;

    @Option(names = "-l", description = "long format: mode, links, owner, group, size, name, symlink target")
    boolean longFormat;

    @Option(names = "-R", description = "list subdirectories recursively")
    boolean recursive;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        try (DaxImage image = DaxImage.open(imagePath)) {
            DaxInode target = image.lookup(path).orElse(null);
            if (target == null || target.isSymlink() && !longFormat) {
                target = image.resolve(path);
            }
            if (!target.isDirectory()) {
                String name = path.replaceAll("/+$", "");
                out.println(longFormat ? longLine(image, new DaxEntry(name, name, target)) : name);
                return 0;
            }
            list(image, path, out, false);
            out.flush();
        }
        return 0;
    }

    private void list(DaxImage image, String dir, PrintWriter out, boolean header) throws java.io.IOException {
        List<DaxEntry> entries = image.list(dir);
        if (header) {
            out.println();
            out.println("/" + dir.replaceAll("^/+", "") + ":");
        } else if (recursive) {
            out.println("/" + dir.replaceAll("^/+|/+$", "") + ":");
        }
        for (DaxEntry e : entries) {
            out.println(longFormat ? longLine(image, e) : e.name());
        }
        if (recursive) {
            for (DaxEntry e : entries) {
                if (e.inode().isDirectory()) {
                    list(image, e.path(), out, true);
                }
            }
        }
    }

    private static String longLine(DaxImage image, DaxEntry e) {
        DaxInode n = e.inode();
        long size = n.isDirectory() ? n.entryCount() * dev.daxload.image.DaxfsLayout.DIRENT_SIZE_UNIT : n.size();
        String line = String.format("%s %3d %5d %5d %12d %s", n.modeString(), n.nlink(), n.uid(), n.gid(), size, e.name());
        return n.isSymlink() ? line + " -> " + image.readSymlink(n) : line;
    }
}
