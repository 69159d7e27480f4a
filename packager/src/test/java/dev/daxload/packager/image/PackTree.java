package dev.daxload.packager.image;

import java.nio.file.Path;

/**
 * Packs a directory into an image from the command line, for the whole-process benchmark
 * {@code packager/bench/pack-vs-cp.sh}: the same path a user's pack takes (scan, then stream the
 * files with the kernel's copy), and nothing else, so it can be timed against {@code cp -r}.
 *
 * <p>Usage: {@code PackTree SOURCE_DIR IMAGE [ALIGNMENT_BYTES]}
 */
public final class PackTree {
    private PackTree() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: PackTree SOURCE_DIR IMAGE [ALIGNMENT_BYTES]");
            System.exit(2);
        }
        ImageWriter writer = new ImageWriter();
        if (args.length > 2) {
            writer.alignment(Long.parseLong(args[2]));
        }
        ImageTree tree = new TreeScanner(w -> System.err.println("warning: " + w)).scan(Path.of(args[0]));
        writer.write(tree, Path.of(args[1]));
    }
}
