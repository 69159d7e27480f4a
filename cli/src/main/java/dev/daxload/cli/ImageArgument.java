package dev.daxload.cli;

import dev.daxload.image.DaxImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * The IMAGE argument of the commands that read one: a regular file or a device (a DAX device, a block
 * device, {@code /dev/mem}), checked before it is opened. A directory would otherwise reach mmap with the
 * size lseek gives it (Long.MAX_VALUE) and a FIFO would block the open until a writer came.
 */
final class ImageArgument {
    private static final int S_IFMT = 0170000;
    private static final int S_IFIFO = 0010000;
    private static final int S_IFSOCK = 0140000;

    private ImageArgument() {}

    /** Opens the image after {@link #check}. */
    static DaxImage open(Path image) throws IOException {
        check(image);
        return DaxImage.open(image);
    }

    /** Refuses, in one line naming the path, anything but a regular file or a device (symlinks followed). */
    static void check(Path image) throws IOException {
        if (!Files.exists(image)) {
            throw new NoSuchFileException(image.toString());
        }
        if (Files.isDirectory(image)) {
            throw new IOException(image + ": is a directory, not an image file");
        }
        if (Files.isRegularFile(image)) {
            return;
        }
        int type = ((Integer) Files.getAttribute(image, "unix:mode")) & S_IFMT;
        if (type == S_IFIFO) {
            throw new IOException(image + ": is a FIFO, not an image file (an image is mapped, so it must be a file or a device)");
        }
        if (type == S_IFSOCK) {
            throw new IOException(image + ": is a socket, not an image file");
        }
    }
}
