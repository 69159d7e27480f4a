package dev.daxload.image.internal;

import dev.daxload.image.DaxEntry;
import dev.daxload.image.DaxImage;
import dev.daxload.image.DaxInode;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * The small files of an image a load reads by path (a manifest, ONNX Runtime's form key and graph, a
 * tokenizer), from a mapped and validated {@link DaxImage} or from a {@link DaxFileReader}; the code that
 * reads them need not know which.
 */
public interface ImageFiles {
    /** The image, as messages name it. */
    String source();

    /** Whether {@code path} is a directory (symbolic links not followed). */
    boolean isDirectory(String path) throws IOException;

    /** Whether {@code path} is a regular file (symbolic links not followed). */
    boolean isRegularFile(String path) throws IOException;

    /** The names in the directory at {@code path}. */
    List<String> list(String path) throws IOException;

    /** The bytes of the regular file at {@code path}, refused unread when over {@code maxBytes}. */
    byte[] read(String path, long maxBytes) throws IOException;

    /**
     * Writes the regular file at {@code path} to the new file {@code out}, without holding it in the heap (a side file
     * may be larger than the heap, a hostile one on purpose).
     */
    void copy(String path, Path out) throws IOException;

    /** The files of a mapped image, which follows symbolic links within the image when it reads. */
    static ImageFiles of(DaxImage image) {
        return new ImageFiles() {
            @Override
            public String source() {
                return image.source();
            }

            @Override
            public boolean isDirectory(String path) {
                return image.lookup(path).map(DaxInode::isDirectory).orElse(false);
            }

            @Override
            public boolean isRegularFile(String path) {
                return image.lookup(path).map(DaxInode::isRegularFile).orElse(false);
            }

            @Override
            public List<String> list(String path) throws IOException {
                return image.list(path).stream().map(DaxEntry::name).toList();
            }

            @Override
            public byte[] read(String path, long maxBytes) throws IOException {
                DaxInode f = image.resolve(path);
                if (f.size() > maxBytes) {
                    throw new IOException(image.source() + ":/" + path + ": " + f.size() + " bytes, more than the " + maxBytes + " this reader takes");
                }
                return image.content(f).toArray(ValueLayout.JAVA_BYTE);
            }

            @Override
            public void copy(String path, Path out) throws IOException {
                MemorySegment data = image.content(image.resolve(path));
                try (FileChannel ch = FileChannel.open(out, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                    for (long at = 0; at < data.byteSize(); ) {
                        long n = Math.min(data.byteSize() - at, 1L << 30);
                        ByteBuffer b = data.asSlice(at, n).asByteBuffer();
                        while (b.hasRemaining()) {
                            ch.write(b);
                        }
                        at += n;
                    }
                }
            }
        };
    }

    /** The files of an image file read with positional reads ({@link DaxFileReader}: symbolic links are not followed). */
    static ImageFiles of(DaxFileReader reader) {
        return new ImageFiles() {
            @Override
            public String source() {
                return reader.file().toString();
            }

            @Override
            public boolean isDirectory(String path) throws IOException {
                return reader.lookup(path).map(DaxFileReader.Node::isDirectory).orElse(false);
            }

            @Override
            public boolean isRegularFile(String path) throws IOException {
                return reader.lookup(path).map(DaxFileReader.Node::isRegularFile).orElse(false);
            }

            @Override
            public List<String> list(String path) throws IOException {
                return reader.list(path);
            }

            @Override
            public byte[] read(String path, long maxBytes) throws IOException {
                return reader.read(path, maxBytes);
            }

            @Override
            public void copy(String path, Path out) throws IOException {
                reader.copy(path, out);
            }
        };
    }
}
