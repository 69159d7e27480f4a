package dev.daxload.cli;

import dev.daxload.image.DaxImage;
import dev.daxload.packager.extract.ImageExtractor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "extract", mixinStandardHelpOptions = true,
        description = {"Unpack an image (or one directory of it) into DIR, like unsquashfs.",
            "Nothing is written outside DIR, symlinks included; existing files are not overwritten."})
final class ExtractCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE")
    Path imagePath;

    @Parameters(index = "1", paramLabel = "DIR", description = "where to unpack (created if missing)")
    Path dir;

    @Option(names = "--path", paramLabel = "PATH", defaultValue = "/", description = "directory of the image to unpack (default: all)")
    String path;

    @Option(names = "--no-same-owner", description = "do not restore owners (the default when not run as root)")
    boolean noSameOwner;

    @Option(names = {"-q", "--quiet"}, description = "no summary")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        boolean root = ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
        try (DaxImage image = ImageArgument.open(imagePath)) {
            long bytes = new ImageExtractor(root && !noSameOwner).extract(image, path, dir);
            if (!quiet) {
                System.err.printf("%s: extracted %s into %s%n", imagePath, Sizes.human(bytes), dir);
            }
        }
        return 0;
    }
}
