package dev.daxload.packager.image;

import dev.daxload.image.internal.DaxfsLayout;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Puts a complete, checked image where an {@link ImageTarget} says, so that nobody ever sees half of
 * one: written unnamed beside a file and renamed over it; for a device or a stream, written unnamed
 * in {@code java.io.tmpdir}, checked, then copied in order (a device's size checked before a byte of it
 * is written); for hugetlbfs, written and checked in {@code java.io.tmpdir}, then copied through a
 * mapping into an unnamed file beside the target and renamed over it.
 */
final class ImagePublisher {
    /** Writes the whole image into an empty channel from position 0. */
    @FunctionalInterface
    interface Body {
        ImageLayout writeTo(FileChannel ch) throws IOException;
    }

    /** Device-DAX devices map in whole 2 MiB pages. */
    private static final long DAX_ALIGN = 2L << 20;

    private final Body body;
    private final ImageWriter.ImageCheck check;

    ImagePublisher(Body body, ImageWriter.ImageCheck check) {
        this.body = body;
        this.check = check;
    }

    /**
     * @param knownBytes a lower bound of the image's size (its files' known bytes): a device smaller
     *                   than that is refused before any work
     */
    ImageLayout to(ImageTarget target, long knownBytes) throws IOException {
        return switch (target) {
            case ImageTarget.File f -> toFile(f.path());
            case ImageTarget.HugePages h -> toHugePages(h);
            case ImageTarget.Device d -> toDevice(d, knownBytes);
            case ImageTarget.Stream s -> {
                try (FileChannel out = FileChannel.open(s.path(), StandardOpenOption.WRITE)) {
                    yield to(out, s.named());
                }
            }
        };
    }

    /** Streams the complete image to {@code out}; {@code named} says what {@code out} is in messages. */
    ImageLayout to(WritableByteChannel out, Path named) throws IOException {
        try (TempImage tmp = TempImage.create(temporaryDirectory(), "daxload-image", true);
             Arena arena = Arena.ofConfined()) {
            ImageLayout layout = writeChecked(tmp);
            write(tmp.channel().map(FileChannel.MapMode.READ_ONLY, 0, layout.size(), arena), out, named);
            return layout;
        }
    }

    private ImageLayout toFile(Path target) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        try (TempImage tmp = TempImage.create(dir, target.getFileName().toString(), false)) {
            ImageLayout layout = writeChecked(tmp);
            tmp.publish(target);
            return layout;
        }
    }

    private ImageLayout toHugePages(ImageTarget.HugePages h) throws IOException {
        try (TempImage staged = TempImage.create(temporaryDirectory(), "daxload-image", true);
             Arena arena = Arena.ofConfined()) {
            ImageLayout layout = writeChecked(staged);
            long size = layout.size();
            onHugePages(staged.channel().map(FileChannel.MapMode.READ_ONLY, 0, size, arena), h, null);
            return layout;
        }
    }

    /**
     * Copies the complete image {@code source} through a mapping into an unnamed file of whole huge pages beside
     * {@code h}'s path, has {@code check} read it there (when given), and renames it over the target.
     */
    static void onHugePages(MemorySegment source, ImageTarget.HugePages h, ImageWriter.ImageCheck check) throws IOException {
        long length = DaxfsLayout.alignUp(source.byteSize(), h.pageSize());
        Path dir = h.path().toAbsolutePath().getParent();
        try (TempImage placed = TempImage.create(dir, h.path().getFileName().toString(), false)) {
            try {
                try (RandomAccessFile f = new RandomAccessFile(placed.path().toFile(), "rw")) {
                    f.setLength(length); // ftruncate: a hugetlbfs file is sized before it is mapped
                }
                FileCalls.copyThroughMapping(source, placed.path(), length);
            } catch (IOException e) {
                throw new FileSystemException(h.named().toString(), null, "hugetlbfs did not take the image ("
                        + length / h.pageSize() + " huge pages of " + (h.pageSize() >> 10) + " KiB; HugePages_Free in"
                        + " /proc/meminfo tells how many are left): " + e.getMessage() + "; nothing was written there");
            }
            if (check != null) {
                check.check(placed.path());
            }
            placed.publish(h.path());
        }
    }

    private ImageLayout toDevice(ImageTarget.Device d, long knownBytes) throws IOException {
        if (d.size() >= 0 && knownBytes > d.size()) {
            throw doesNotFit(d, knownBytes, "its files alone take");
        }
        try (TempImage tmp = TempImage.create(temporaryDirectory(), "daxload-image", true);
             Arena arena = Arena.ofConfined()) {
            ImageLayout layout = writeChecked(tmp);
            onDevice(tmp.channel().map(FileChannel.MapMode.READ_ONLY, 0, layout.size(), arena), d);
            return layout;
        }
    }

    /**
     * Writes the complete image {@code bytes} onto {@code d} in place, after checking that it fits: through the
     * page cache to a block device (flushed to the device before this returns, as mkfs does), through a mapping
     * in whole huge pages to a character device with a size (device-DAX takes data no other way), in order to any
     * other character device.
     */
    static void onDevice(MemorySegment bytes, ImageTarget.Device d) throws IOException {
        long size = bytes.byteSize();
        if (d.size() >= 0 && size > d.size()) {
            throw doesNotFit(d, size, "the image takes");
        }
        if (d.block() || d.size() < 0) {
            try (FileChannel out = FileChannel.open(d.path(), StandardOpenOption.WRITE)) {
                write(bytes, out, d.named());
                if (d.block()) {
                    out.force(true);
                }
            }
        } else {
            FileCalls.copyThroughMapping(bytes, d.path(), Math.min(d.size(), DaxfsLayout.alignUp(size, DAX_ALIGN)));
        }
    }

    /**
     * Writes {@code bytes} to {@code out} in order, in pieces any direct buffer can hold; a failure names
     * {@code named} and how far the writing got.
     */
    static void write(MemorySegment bytes, WritableByteChannel out, Path named) throws IOException {
        long size = bytes.byteSize();
        long done = 0;
        try {
            while (done < size) {
                ByteBuffer piece = bytes.asSlice(done, Math.min(8 << 20, size - done)).asByteBuffer();
                while (piece.hasRemaining()) {
                    done += out.write(piece);
                }
            }
        } catch (IOException e) {
            throw new IOException(named + ": writing the image failed after " + done + " of " + size + " bytes: "
                    + e.getMessage(), e);
        }
    }

    private static FileSystemException doesNotFit(ImageTarget.Device d, long bytes, String what) {
        return new FileSystemException(d.named().toString(), null, "the image does not fit: " + what + " "
                + bytes + " bytes and the device holds " + d.size() + "; nothing was written to it");
    }

    private ImageLayout writeChecked(TempImage tmp) throws IOException {
        ImageLayout layout = body.writeTo(tmp.channel());
        if (check != null) {
            check.check(tmp.path());
        }
        return layout;
    }

    private static Path temporaryDirectory() {
        return Path.of(System.getProperty("java.io.tmpdir"));
    }
}
