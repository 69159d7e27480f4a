package dev.daxload.packager.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Where a regular file's bytes come from when an image is written. Contents are pulled one file at a
 * time, straight into the image, so the writer never holds more than one file's worth of buffers.
 */
public interface FileContent {

    /** Length in bytes; must not change between planning and writing. */
    long size();

    /**
     * Writes exactly {@link #size()} bytes into {@code image} at {@code position}.
     *
     * @throws IOException if the source cannot be read or no longer has {@link #size()} bytes
     */
    void writeTo(FileChannel image, long position) throws IOException;

    /** A description for messages: a path, a path and a range. */
    String describe();

    /**
     * Where this content's bytes come in the order the writer writes files: ascending, ties in inode order.
     * Contents that can be read at any time say 0; one read from a stream in a single pass (a registry
     * layer, say) gives its place in that stream, so the stream never has to go back. The layout does not
     * depend on it: only the order of the writes.
     */
    default long writeOrder() {
        return 0;
    }

    /** The whole of a file, as it is when the image is written. */
    static FileContent of(Path file, long size) {
        return range(file, 0, size);
    }

    /**
     * {@code length} bytes of {@code file} from {@code offset}: a tensor inside a safetensors file, say.
     * The image writer copies ranges itself, checksumming them on the way; {@link #writeTo} on its own
     * uses {@link FileChannel#transferTo}, so the kernel moves the bytes (copy_file_range, reflinks where
     * the filesystem has them).
     */
    static FileContent range(Path file, long offset, long length) {
        return new FileRange(file, offset, length);
    }

    /** Bytes already in memory: small side files, manifests. */
    static FileContent of(byte[] bytes) {
        return new Bytes(bytes.clone());
    }

    /**
     * Bytes made after every other file of the image is placed and written: a manifest that records
     * where the other files landed. Late files go at the end of the data area, so their size moves
     * nothing else.
     */
    static Late late(LateProducer producer) {
        return new Late(producer);
    }

    /** Makes the bytes of a {@link Late} file once the layout of everything else is final. */
    @FunctionalInterface
    interface LateProducer {
        byte[] produce(ImageLayout layout) throws IOException;
    }

    /** See {@link #late(LateProducer)}. */
    final class Late implements FileContent {
        private final LateProducer producer;
        private byte[] bytes;

        Late(LateProducer producer) {
            this.producer = producer;
        }

        void produce(ImageLayout layout) throws IOException {
            bytes = producer.produce(layout);
        }

        @Override
        public long size() {
            if (bytes == null) {
                throw new IllegalStateException("a late file's size is known only once it is produced");
            }
            return bytes.length;
        }

        @Override
        public void writeTo(FileChannel image, long position) throws IOException {
            new Bytes(bytes).writeTo(image, position);
        }

        @Override
        public String describe() {
            return "a file written last";
        }
    }

    /** A slice of a source file. */
    record FileRange(Path file, long offset, long length) implements FileContent {
        public FileRange {
            if (offset < 0 || length < 0) {
                throw new IllegalArgumentException("negative range " + offset + "+" + length + " of " + file);
            }
        }

        @Override
        public long size() {
            return length;
        }

        @Override
        public void writeTo(FileChannel image, long position) throws IOException {
            if (length == 0) {
                return;
            }
            try (FileChannel src = open()) {
                transfer(src, image, position);
            }
        }

        /**
         * Copies the range from {@code src}, this range's file opened earlier, to {@code position} of
         * {@code image} by {@link FileChannel#transferTo} (the kernel's copy; {@code FileCopy}).
         */
        void transfer(FileChannel src, FileChannel image, long position) throws IOException {
            image.position(position);
            long done = dev.daxload.image.internal.FileCopy.copy(src, offset, length, image);
            if (done < length) {
                throw new IOException(file + ": copy stopped at byte " + (offset + done) + " of " + (offset + length));
            }
        }

        @Override
        public String describe() {
            return offset == 0 ? file.toString() : file + " [" + offset + ", +" + length + ")";
        }

        /**
         * Opens the source for reading this range, checking it still holds it: sources are planned when
         * the tree is scanned and read when the image is written, and may change in between.
         */
        public FileChannel open() throws IOException {
            FileChannel src = FileChannel.open(file, StandardOpenOption.READ);
            try {
                checkHeldBy(src);
            } catch (IOException e) {
                src.close();
                throw e;
            }
            return src;
        }

        /** Checks that {@code src}, this range's file opened earlier, still holds the range. */
        public void checkHeldBy(FileChannel src) throws IOException {
            long now = src.size();
            if (now < offset + length) {
                throw new IOException(file + ": has " + now + " bytes now, but " + (offset + length)
                        + " were planned (changed while packing?)");
            }
        }
    }

    /** In-memory bytes. */
    record Bytes(byte[] bytes) implements FileContent {
        @Override
        public long size() {
            return bytes.length;
        }

        @Override
        public void writeTo(FileChannel image, long position) throws IOException {
            ByteBuffer buf = ByteBuffer.wrap(bytes);
            while (buf.hasRemaining()) {
                position += image.write(buf, position);
            }
        }

        @Override
        public String describe() {
            return bytes.length + " bytes in memory";
        }
    }
}
