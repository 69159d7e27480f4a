package dev.daxload.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "place", mixinStandardHelpOptions = true,
        description = {"Copy an image where servers read it, as pack-model -o would write it there.",
            "A file is replaced only when complete (symlinks followed); on hugetlbfs, which takes no write(2) so cp"
                + " fails there, the image is written through a mapping into whole huge pages; a DAX or block device"
                + " is written in place after a size check; - is standard output. The image is checked before a byte"
                + " is written and its copy again before it is published, so a bad image or a failed copy leaves the"
                + " target as it was."})
final class PlaceCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE", description = "the image to copy")
    Path image;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "TARGET",
            description = "where to put it: a file (on any file system, tmpfs and hugetlbfs included), a block or character device, or - for standard output")
    Path output;

    @Option(names = {"-q", "--quiet"}, description = "no summary")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        ImageOutput out = ImageOutput.of(output);
        long t0 = System.nanoTime();
        long size = out.place(image);
        if (!quiet) {
            System.err.printf("%s: %s in %.2f s%n", out.describe(), Sizes.human(size), (System.nanoTime() - t0) / 1e9);
        }
        return 0;
    }
}
