package dev.daxload.cli;

import dev.daxload.image.DaxImage;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import dev.daxload.packager.extract.ImageExtractor;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "cat", mixinStandardHelpOptions = true, description = "Write a file of an image to standard output (symlinks followed).")
final class CatCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE")
    Path imagePath;

    @Parameters(index = "1..*", arity = "1..*", paramLabel = "PATH", description = "files inside the image")
    java.util.List<String> paths;

    @Override
    public Integer call() throws Exception {
        System.out.flush();
        // A channel on fd 1 lets the kernel copy straight from the mapping; it is never closed,
        // since closing it would close standard output for the whole process.
        @SuppressWarnings("resource")
        FileChannel out = new FileOutputStream(FileDescriptor.out).getChannel();
        try (DaxImage image = ImageArgument.open(imagePath)) {
            for (String p : paths) {
                ImageExtractor.writeAll(image.content(p), out);
            }
        }
        return 0;
    }
}
