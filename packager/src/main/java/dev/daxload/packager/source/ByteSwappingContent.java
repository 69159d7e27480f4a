package dev.daxload.packager.source;

import dev.daxload.packager.image.FileContent;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * A range of a source file holding big-endian elements, written into the image little-endian. The bytes
 * stream through one bounded buffer, so a tensor of any size costs {@value #CHUNK} bytes of heap.
 *
 * @param file the source file
 * @param offset where the elements start
 * @param length how many bytes they take, a multiple of {@code unit}
 * @param unit bytes per swapped unit: the element size, or the size of each part of a complex number
 */
public record ByteSwappingContent(Path file, long offset, long length, int unit) implements FileContent {
    static final int CHUNK = 1 << 20;

    public ByteSwappingContent {
        if (offset < 0 || length < 0 || unit < 1 || length % unit != 0) {
            throw new IllegalArgumentException("bad swapped range " + offset + "+" + length + "/" + unit + " of " + file);
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
        try (FileChannel src = new FileContent.FileRange(file, offset, length).open()) {
            byte[] chunk = new byte[(int) Math.min(CHUNK - CHUNK % unit, length)];
            ByteBuffer buf = ByteBuffer.wrap(chunk);
            long done = 0;
            while (done < length) {
                int n = (int) Math.min(chunk.length, length - done);
                buf.clear().limit(n);
                while (buf.hasRemaining()) {
                    if (src.read(buf, offset + done + buf.position()) < 0) {
                        throw new IOException(file + ": ended at byte " + (offset + done + buf.position()) + " while copying");
                    }
                }
                ByteSwap.swap(chunk, 0, n, unit);
                writeFully(image, ByteBuffer.wrap(chunk, 0, n), position + done);
                done += n;
            }
        }
    }

    static void writeFully(FileChannel image, ByteBuffer buf, long position) throws IOException {
        while (buf.hasRemaining()) {
            position += image.write(buf, position);
        }
    }

    @Override
    public String describe() {
        return file + " [" + offset + ", +" + length + ") byte-swapped in " + unit + "-byte units";
    }
}
