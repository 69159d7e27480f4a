package dev.daxload.cli;

import dev.daxload.packager.image.ImageLayout;
import dev.daxload.packager.image.ImageTree;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.image.TreeScanner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "pack", mixinStandardHelpOptions = true,
        description = {"Pack a directory tree into a static DAXFS image.",
            "Regular files, directories, symlinks and hard links are kept with their modes and owners;"
                + " sockets, FIFOs and devices are skipped with a warning. The same tree gives the same image."})
final class PackCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "DIR", description = "the directory to pack")
    Path dir;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "IMAGE", description = "the image to write: a file (replaced only when complete; symlinks followed), a block or character device (written in place), or - for standard output")
    Path output;

    @Option(names = "--align", paramLabel = "SIZE", converter = Sizes.AlignmentConverter.class, defaultValue = "4096",
            description = "align files at least SIZE long to SIZE, e.g. 2M for huge-page mappings (default: ${DEFAULT-VALUE})")
    long align;

    @Option(names = "--all-root", description = "make every file owned by uid 0 and gid 0")
    boolean allRoot;

    @Option(names = {"-q", "--quiet"}, description = "no progress bar, no summary")
    boolean quiet;

    @Option(names = "--no-verify", description = "skip reading the image back and checking it after writing")
    boolean noVerify;

    @Override
    public Integer call() throws Exception {
        ImageOutput out = ImageOutput.of(output);
        if (!Files.isDirectory(dir)) {
            throw new java.nio.file.NotDirectoryException(dir.toString());
        }
        long t0 = System.nanoTime();
        ImageTree tree = new TreeScanner(w -> System.err.println("daxload pack: warning: " + w)).scan(dir);
        ImageWriter writer = new ImageWriter().alignment(align).rootOwned(allRoot);
        if (!noVerify) {
            // The full validator, before the image is published: a writer bug shows here, not at mount time.
            writer.check(ImageOutput::validate);
        }
        ImageLayout layout;
        try (ProgressBar bar = new ProgressBar("packing", quiet)) {
            layout = out.write(writer.progress(bar), tree);
        }
        if (!quiet) {
            double secs = (System.nanoTime() - t0) / 1e9;
            System.err.printf("%s: %s in %.2f s%n", out.describe(), Sizes.human(layout.size()), secs);
        }
        return 0;
    }
}
