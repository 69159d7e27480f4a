package dev.daxload.image.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;

/**
 * A range of a file copied into a channel by the kernel ({@link FileChannel#transferTo}: {@code copy_file_range}
 * or {@code sendfile}), and through a small direct buffer where that goes wrong. The JDK falls back, for files
 * those calls refuse (hugetlbfs), to mapping the file in pieces: hugetlbfs refuses a piece at an offset that is
 * not a whole number of huge pages (an {@link IOException}, after which this copy goes on through the buffer),
 * and accepts one at such an offset but then refuses to unmap it, whereupon the JDK's internal cleaner prints
 * "Cleaner terminated abnormally" and calls {@code System.exit(1)}. Ranges whose first 4 KiB page (the JDK maps
 * from there) starts on a 2 MiB boundary are therefore copied through the buffer from the start. Nothing passes
 * through the Java heap either way.
 */
public final class FileCopy {
    private static final long HUGE_PAGE = 2L << 20;
    private static final long PAGE = 4096;
    private static final int BUFFER = 1 << 20;

    private FileCopy() {}

    /**
     * Copies {@code count} bytes of {@code src} from {@code from} to {@code out} at its position.
     *
     * @return the bytes copied: fewer than {@code count} only where {@code src} ended first
     */
    public static long copy(FileChannel src, long from, long count, WritableByteChannel out) throws IOException {
        long done = 0;
        // The JDK maps from the 4 KiB page that holds from: a range is kept from transferTo where that page starts a huge page.
        if ((from & ~(PAGE - 1)) % HUGE_PAGE != 0) {
            try {
                while (done < count) {
                    long n = src.transferTo(from + done, count - done, out);
                    if (n <= 0) {
                        return done; // the file ended
                    }
                    done += n;
                }
                return done;
            } catch (IOException e) {
                // A call that throws has written nothing: the copy goes on from done, through the buffer.
                if (!src.isOpen() || !out.isOpen()) {
                    throw e;
                }
            }
        }
        ByteBuffer b = ByteBuffer.allocateDirect((int) Math.min(BUFFER, Math.max(1, count - done)));
        while (done < count) {
            b.clear().limit((int) Math.min(b.capacity(), count - done));
            int n = src.read(b, from + done);
            if (n <= 0) {
                return done;
            }
            b.flip();
            while (b.hasRemaining()) {
                out.write(b);
            }
            done += n;
        }
        return done;
    }
}
