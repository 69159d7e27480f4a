package dev.daxload.registry;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.attribute.FileTime;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * An image file seen as an uncompressed tar holding it alone (what a container image layer is), without writing the
 * tar anywhere: the header is made by commons-compress, the body is the file, then padding and the two end records.
 * Fixed owner, mode and time, so the same image always makes the same layer digest.
 */
final class TarredImage implements BlobSource {
    private static final int RECORD = 512;

    private final byte[] header;
    private final FileChannel image;
    private final long imageSize;
    private final long size;

    TarredImage(FileChannel image, long imageSize, String name) throws IOException {
        this.image = image;
        this.imageSize = imageSize;
        TarArchiveEntry entry = new TarArchiveEntry(name);
        entry.setSize(imageSize);
        entry.setMode(0100444);
        entry.setModTime(FileTime.fromMillis(0));
        entry.setUserId(0);
        entry.setGroupId(0);
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        // Not closed: closing would want the body. Its header (PAX records first, for sizes over 8 GiB) is all we take.
        TarArchiveOutputStream tar = new TarArchiveOutputStream(head);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        tar.putArchiveEntry(entry);
        tar.flush();
        this.header = head.toByteArray();
        long padding = (RECORD - imageSize % RECORD) % RECORD;
        this.size = header.length + imageSize + padding + 2L * RECORD;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public int read(ByteBuffer dst, long position) throws IOException {
        if (position >= size) {
            return -1;
        }
        int start = dst.position();
        long pos = position;
        while (dst.hasRemaining() && pos < size) {
            if (pos < header.length) {
                int n = (int) Math.min(dst.remaining(), header.length - pos);
                dst.put(header, (int) pos, n);
                pos += n;
            } else if (pos < header.length + imageSize) {
                long at = pos - header.length;
                int want = (int) Math.min(dst.remaining(), imageSize - at);
                ByteBuffer slice = dst.slice().limit(want);
                int n = image.read(slice, at);
                if (n <= 0) {
                    throw new IOException("image ended at byte " + at + " of " + imageSize + " while tarring it");
                }
                dst.position(dst.position() + n);
                pos += n;
            } else {
                int n = (int) Math.min(dst.remaining(), size - pos);
                for (int i = 0; i < n; i++) {
                    dst.put((byte) 0);
                }
                pos += n;
            }
        }
        return dst.position() - start;
    }
}
