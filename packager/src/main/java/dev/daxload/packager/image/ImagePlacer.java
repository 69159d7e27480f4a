package dev.daxload.packager.image;

import dev.daxload.image.DaxImage;
import dev.daxload.image.MapOptions;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An image that exists already, put where servers read it ({@code daxload place}) with the care a freshly
 * packed one gets: the image is checked before a byte is written, copied whole into an unnamed file, checked
 * again there, and only then published as its {@link ImageTarget} says (a file replaced atomically, hugetlbfs
 * through a mapping, a device in place after a size check, a stream in order). A copy that went wrong, or a
 * source that changed under it, is never published.
 */
public final class ImagePlacer {
    private ImagePlacer() {}

    /**
     * Places {@code image} at {@code target}.
     *
     * @return the image's size in bytes (the target may hold more: a hugetlbfs file is whole huge pages)
     * @throws dev.daxload.image.DaxFormatException naming the field when {@code image} is not a readable image
     * @throws FileSystemException when {@code target} is {@code image} itself, or does not take it
     */
    public static long place(Path image, ImageTarget target) throws IOException {
        long size = checkedSize(image);
        Path destination = switch (target) {
            case ImageTarget.File f -> f.path();
            case ImageTarget.HugePages h -> h.path();
            case ImageTarget.Device d -> d.path();
            case ImageTarget.Stream s -> s.path();
        };
        if (Files.exists(destination) && Files.isSameFile(image, destination)) {
            throw new FileSystemException(target.named().toString(), null, "is the image being placed (" + image + "); nothing was written");
        }
        if (target instanceof ImageTarget.HugePages h) {
            // Straight from the image's mapping into huge pages, checked there before it is published: no staging
            // copy in java.io.tmpdir, which may be far smaller than an image meant for huge pages.
            try (FileChannel in = FileChannel.open(image, StandardOpenOption.READ); Arena arena = Arena.ofConfined()) {
                long fileSize = in.size();
                if (fileSize < size) {
                    throw shrank(image, fileSize, size);
                }
                // The whole file is mapped: a source on hugetlbfs maps only in whole huge pages, as its file is.
                ImagePublisher.onHugePages(in.map(FileChannel.MapMode.READ_ONLY, 0, fileSize, arena).asSlice(0, size), h,
                        ImagePlacer::checkCopy);
            }
            return size;
        }
        return publisher(image, size).to(target, size).size();
    }

    /** Streams {@code image} to {@code out} once checked; {@code named} says what {@code out} is in messages. */
    public static long place(Path image, WritableByteChannel out, Path named) throws IOException {
        long size = checkedSize(image);
        return publisher(image, size).to(out, named).size();
    }

    /** The image's own size (its superblock's), after the checks every reader makes. */
    private static long checkedSize(Path image) throws IOException {
        try (DaxImage source = DaxImage.open(image, MapOptions.readOnly())) {
            return source.superblock().totalSize();
        }
    }

    private static ImagePublisher publisher(Path image, long size) {
        return new ImagePublisher(ch -> {
            try (FileChannel in = FileChannel.open(image, StandardOpenOption.READ)) {
                if (in.size() < size) {
                    throw shrank(image, in.size(), size);
                }
                long done = 0;
                while (done < size) {
                    long n = in.transferTo(done, size - done, ch);
                    if (n <= 0) {
                        throw new FileSystemException(image.toString(), null, "could not be read past byte " + done);
                    }
                    done += n;
                }
            }
            ImageLayout layout = new ImageLayout();
            layout.size(size);
            return layout;
        }, ImagePlacer::checkCopy);
    }

    private static FileSystemException shrank(Path image, long fileSize, long size) {
        return new FileSystemException(image.toString(), null, "shrank to " + fileSize + " bytes while it was read;"
                + " the image takes " + size + "; nothing was written");
    }

    /** The copy, read back with the same checks as the source, before it is published. */
    private static void checkCopy(Path copy) throws IOException {
        try (DaxImage ignored = DaxImage.open(copy, MapOptions.readOnly())) {
            // opening is the check: it throws naming what is wrong
        }
    }
}
