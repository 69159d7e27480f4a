package dev.daxload.cli;

import dev.daxload.image.DaxEntry;
import dev.daxload.image.DaxImage;
import dev.daxload.image.DaxInode;
import dev.daxload.image.DaxNames;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "ls", mixinStandardHelpOptions = true, description = {"List a directory of an image, like ls.",
    "Names are shown as ls -b shows them: bytes that are not printable UTF-8 as \\ and three octal digits, a backslash as \\\\."})
final class LsCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IMAGE")
    Path imagePath;

    @Parameters(index = "1", arity = "0..1", paramLabel = "PATH", defaultValue = "/", description = "path inside the image (default: the root)")
    String path;

    @Option(names = "-l", description = "long format: mode, links, owner, group, size, name, symlink target")
    boolean longFormat;

    @Option(names = "-R", description = "list subdirectories recursively")
    boolean recursive;

    @Option(names = "--json", description = "one JSON document with every entry's fields, for scripts (docs/cli-json.md)")
    boolean json;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        try (DaxImage image = ImageArgument.open(imagePath)) {
            DaxInode target = image.lookup(path).orElse(null);
            if (target == null || target.isSymlink() && !longFormat) {
                target = image.resolve(path);
            }
            if (json) {
                JsonOutput.print(out, LsJson.document(image, imagePath.toString(), path, target, recursive));
                return 0;
            }
            if (!target.isDirectory()) {
                String name = path.replaceAll("/+$", "");
                out.println(longFormat ? longLine(image, new DaxEntry(name, name, target)) : name);
                return 0;
            }
            list(image, target, out);
            out.flush();
        }
        return 0;
    }

    /**
     * Lists {@code dir}, and with -R every directory below it, walking inodes rather than paths: each
     * directory costs its entries plus one path for its header, so a chain of 2,040 directories lists
     * in time proportional to its output (by path, each level re-resolved every level above it).
     */
    private void list(DaxImage image, DaxInode dir, PrintWriter out) {
        java.util.ArrayDeque<DaxInode> stack = new java.util.ArrayDeque<>();
        stack.push(dir);
        boolean first = true;
        while (!stack.isEmpty()) {
            DaxInode d = stack.pop();
            List<DaxEntry> entries = image.list(d);
            if (recursive) {
                if (!first) {
                    out.println();
                }
                out.println("/" + (first ? path.replaceAll("^/+|/+$", "") : DaxNames.escape(image.pathOf(d))) + ":"); // the top as the user spelt it
            }
            first = false;
            for (DaxEntry e : entries) {
                out.println(longFormat ? longLine(image, e) : e.displayName());
            }
            if (recursive) {
                for (int i = entries.size() - 1; i >= 0; i--) {
                    if (entries.get(i).inode().isDirectory()) {
                        stack.push(entries.get(i).inode()); // depth first, in name order, without recursion
                    }
                }
            }
        }
    }

    private static String longLine(DaxImage image, DaxEntry e) {
        DaxInode n = e.inode();
        long size = n.isDirectory() ? n.entryCount() * dev.daxload.image.internal.DaxfsLayout.DIRENT_SIZE_UNIT : n.size();
        String line = String.format("%s %3d %5d %5d %12d %s", n.modeString(), n.nlink(), n.uid(), n.gid(), size, e.displayName());
        return n.isSymlink() ? line + " -> " + DaxNames.escape(image.readSymlinkBytes(n)) : line;
    }
}
