package dev.daxload.packager.image;

import dev.daxload.image.DaxImage;
import dev.daxload.image.MapOptions;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.WritableByteChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * An image that exists already, put where servers read it ({@code daxload place}) with the care a freshly
 * packed one gets: the image is checked before a byte is written, copied whole into an unnamed file, checked
 * again there, and only then published as its {@link ImageTarget} says (a file replaced atomically, hugetlbfs
 * through a mapping, a stream in order). A copy that went wrong, or a source that changed under it, is never
 * published. A device is written in place (there is nothing to rename) after its size is checked, and read back
 * with the same checks afterwards.
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
        Path destination = switch (target) {
            case ImageTarget.File f -> f.path();
            case ImageTarget.HugePages h -> h.path();
            case ImageTarget.Device d -> d.path();
            case ImageTarget.Stream s -> s.path();
        };
        try (DaxImage source = DaxImage.open(image, MapOptions.readOnly())) {
            if (Files.exists(destination) && Files.isSameFile(image, destination)) {
                throw new FileSystemException(target.named().toString(), null, "is the image being placed (" + image + "); nothing was written");
            }
            MemorySegment bytes = imageBytes(source);
            // Onto huge pages or a device, straight from the image's mapping: no staging copy in java.io.tmpdir, which
            // may be far smaller than an image meant for them. Huge pages are checked before they are published; a
            // device, written in place, is checked after.
            if (target instanceof ImageTarget.HugePages h) {
                ImagePublisher.onHugePages(bytes, h, ImagePlacer::checkCopy);
                return bytes.byteSize();
            }
            if (target instanceof ImageTarget.Device d) {
                ImagePublisher.onDevice(bytes, d);
                if (!d.block() && d.size() < 0) {
                    return bytes.byteSize(); // a device that only takes bytes in order (/dev/null, a tape) cannot be read back
                }
                checkCopy(d.path());
                return bytes.byteSize();
            }
            return publisher(bytes, target.named()).to(target, bytes.byteSize()).size();
        }
    }

    /** Streams {@code image} to {@code out} once checked; {@code named} says what {@code out} is in messages. */
    public static long place(Path image, WritableByteChannel out, Path named) throws IOException {
        try (DaxImage source = DaxImage.open(image, MapOptions.readOnly())) {
            return publisher(imageBytes(source), named).to(out, named).size();
        }
    }

    /**
     * The image's own bytes (its superblock's size; the file may hold more, as on hugetlbfs), from the mapping the
     * checks were made on. Every source is read through that mapping: the JDK's {@code transferTo} maps a file in
     * pieces whose unmapping hugetlbfs refuses, and a DAX device takes no {@code read(2)}.
     */
    private static MemorySegment imageBytes(DaxImage source) {
        return source.segment().asSlice(0, source.superblock().totalSize());
    }

    /** Writes the image's bytes into the publisher's unnamed file; {@code named}, the target, is what a failure names. */
    private static ImagePublisher publisher(MemorySegment bytes, Path named) {
        return new ImagePublisher(ch -> {
            ImagePublisher.write(bytes, ch, named);
            ImageLayout layout = new ImageLayout();
            layout.size(bytes.byteSize());
            return layout;
        }, ImagePlacer::checkCopy);
    }

    /** The copy, read back with the same checks as the source, before it is published. */
    private static void checkCopy(Path copy) throws IOException {
        try (DaxImage ignored = DaxImage.open(copy, MapOptions.readOnly())) {
            // opening is the check: it throws naming what is wrong
        }
    }
}
