package dev.daxload.packager.source;

import dev.daxload.packager.image.FileContent;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * Part of a deflated zip member (an array inside a compressed {@code .npz}), inflated while it is written:
 * the compressed bytes are read and inflated in bounded chunks, the first {@code skip} bytes of the member
 * (the {@code .npy} header) are dropped, and the next {@code length} bytes go into the image, optionally
 * byte-swapped. The whole member is inflated and its size and CRC-32 are checked, so a damaged archive
 * fails the write instead of leaving wrong weights in the image.
 *
 * @param file the zip file
 * @param dataOffset where the member's compressed data starts (after its local header)
 * @param compressedSize compressed bytes
 * @param memberSize uncompressed bytes of the whole member
 * @param crc32 the member's CRC-32 from the central directory, or -1 if unknown
 * @param skip uncompressed bytes to drop first
 * @param length uncompressed bytes to write after them
 * @param unit byte-swap unit (element size of big-endian data) or 1 for none
 */
public record InflatingContent(Path file, long dataOffset, long compressedSize, long memberSize, long crc32, long skip,
                               long length, int unit) implements FileContent {
    private static final int IN_CHUNK = 64 * 1024;
    private static final int OUT_CHUNK = 1 << 20;

    public InflatingContent {
        if (dataOffset < 0 || compressedSize < 0 || skip < 0 || length < 0 || unit < 1 || length % unit != 0
                || skip + length > memberSize) {
            throw new IllegalArgumentException("bad inflated range of " + file);
        }
    }

    @Override
    public long size() {
        return length;
    }

    @Override
    public void writeTo(FileChannel image, long position) throws IOException {
        Inflater inflater = new Inflater(true);
        try (FileChannel src = FileChannel.open(file, StandardOpenOption.READ)) {
            if (src.size() < dataOffset + compressedSize) {
                throw new IOException(describe() + ": the file has " + src.size() + " bytes now (changed while packing?)");
            }
            inflate(inflater, src, image, position);
        } catch (DataFormatException e) {
            throw new IOException(describe() + ": corrupt deflate data: " + e.getMessage(), e);
        } finally {
            inflater.end();
        }
    }

    private void inflate(Inflater inflater, FileChannel src, FileChannel image, long position)
            throws IOException, DataFormatException {
        byte[] in = new byte[IN_CHUNK];
        byte[] out = new byte[OUT_CHUNK];
        CRC32 crc = new CRC32();
        long consumed = 0;
        long produced = 0;
        long written = 0;
        int pending = 0;
        while (produced < memberSize) {
            if (inflater.needsInput()) {
                if (consumed == compressedSize) {
                    throw new IOException(describe() + ": compressed data ends after " + produced + " of " + memberSize
                            + " bytes");
                }
                int n = (int) Math.min(in.length, compressedSize - consumed);
                readFully(src, ByteBuffer.wrap(in, 0, n), dataOffset + consumed);
                consumed += n;
                inflater.setInput(in, 0, n);
            }
            int room = (int) Math.min(out.length - pending, memberSize - produced);
            int n = inflater.inflate(out, pending, room);
            if (n == 0) {
                if (inflater.finished() || inflater.needsDictionary()) {
                    throw new IOException(describe() + ": deflate stream ends after " + produced + " of " + memberSize
                            + " bytes");
                }
                continue;
            }
            crc.update(out, pending, n);
            int drop = (int) Math.max(0, Math.min(n, skip - produced));
            if (drop > 0) {
                System.arraycopy(out, pending + drop, out, pending, n - drop);
            }
            produced += n;
            // bytes past skip + length (there should be none) are checked by the CRC but never written
            pending += (int) Math.min(n - drop, length - written - pending);
            if (pending >= out.length / 2 || produced == memberSize) {
                int whole = (int) Math.min(pending - pending % unit, length - written);
                ByteSwap.swap(out, 0, whole, unit);
                ByteSwappingContent.writeFully(image, ByteBuffer.wrap(out, 0, whole), position + written);
                written += whole;
                System.arraycopy(out, whole, out, 0, pending - whole);
                pending -= whole;
            }
        }
        if (!inflater.finished() && inflater.inflate(new byte[1]) > 0) {
            throw new IOException(describe() + ": member inflates to more than its declared " + memberSize + " bytes");
        }
        if (written != length) {
            throw new IOException(describe() + ": wrote " + written + " of " + length + " bytes");
        }
        if (crc32 >= 0 && crc.getValue() != crc32) {
            throw new IOException(describe() + String.format(": CRC-32 is %08x, the archive says %08x", crc.getValue(), crc32));
        }
    }

    private static void readFully(FileChannel src, ByteBuffer buf, long at) throws IOException {
        while (buf.hasRemaining()) {
            int r = src.read(buf, at);
            if (r < 0) {
                throw new IOException("unexpected end of file at byte " + at);
            }
            at += r;
        }
    }

    @Override
    public String describe() {
        return file + " deflated member at " + dataOffset + " (+" + compressedSize + " compressed), bytes [" + skip
                + ", +" + length + ")" + (unit > 1 ? " byte-swapped in " + unit + "-byte units" : "");
    }
}
