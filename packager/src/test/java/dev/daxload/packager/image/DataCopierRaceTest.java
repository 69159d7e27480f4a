package dev.daxload.packager.image;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The race fixed in 4ccfac0, forced every time: the copier must take a chunk's length before it
 * queues the chunk, because the writer thread moves the buffer's limit while it writes in pieces.
 * Here the writer is held inside its first piece of the second chunk (written in 64 KiB pieces:
 * {@link WriteSize} probes the small size on the second chunk) while the copier goes on; a copier
 * that read the limit after queueing sees 64 KiB instead of 1 MiB, copies the rest again and
 * returns a CRC32C over bytes counted twice. With the old line ({@code done += buf.limit()} after
 * the put) this test fails on every run, not 2 times in 300.
 */
class DataCopierRaceTest {
    private static final int MIB = 1 << 20;

    @TempDir Path tmp;

    @Test
    void theChunkLengthIsTakenBeforeTheWriterCanMoveIt() throws Exception {
        byte[] source = new byte[2 * MIB];
        new Random(0x4ccfac0L).nextBytes(source);
        Path src = Files.write(tmp.resolve("src.bin"), source);
        CountDownLatch writerInSecondChunk = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger queued = new AtomicInteger();
        try (FileChannel real = FileChannel.open(tmp.resolve("img.bin"), StandardOpenOption.CREATE_NEW,
                StandardOpenOption.READ, StandardOpenOption.WRITE);
             HoldingChannel image = new HoldingChannel(real, MIB, writerInSecondChunk, release);
             DataCopier copier = new DataCopier(image)) {
            copier.afterQueued = () -> {
                if (queued.incrementAndGet() == 2) {
                    // The writer has taken chunk 2 and set its limit to the first piece before we go on.
                    await(writerInSecondChunk, "the writer never reached the second chunk");
                } else if (queued.get() > 2) {
                    release.countDown(); // only a copier that miscounted queues a third chunk
                }
            };
            int crc;
            try {
                crc = copier.copy(new FileContent.FileRange(src, 0, source.length), 0, true);
            } finally {
                release.countDown();
            }
            copier.finish();
            assertEquals(2, queued.get(), "a 2 MiB range is two 1 MiB chunks");
            CRC32C want = new CRC32C();
            want.update(source);
            assertEquals((int) want.getValue(), crc, "CRC32C of the source range");
            ByteBuffer back = ByteBuffer.allocate(source.length + 1);
            real.read(back, 0);
            assertArrayEquals(source, Arrays.copyOf(back.array(), back.position()), "the image holds the range, once");
        }
    }

    private static void await(CountDownLatch latch, String what) {
        try {
            assertTrue(latch.await(30, TimeUnit.SECONDS), what);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** A file channel whose positional write at or past {@code holdFrom} waits, once, until released. */
    static final class HoldingChannel extends FileChannel {
        private final FileChannel real;
        private final long holdFrom;
        private final CountDownLatch arrived;
        private final CountDownLatch release;

        HoldingChannel(FileChannel real, long holdFrom, CountDownLatch arrived, CountDownLatch release) {
            this.real = real;
            this.holdFrom = holdFrom;
            this.arrived = arrived;
            this.release = release;
        }

        @Override
        public int write(ByteBuffer src, long position) throws IOException {
            if (position >= holdFrom && arrived.getCount() > 0) {
                arrived.countDown();
                await(release, "never released");
            }
            return real.write(src, position);
        }

        @Override public int read(ByteBuffer dst) throws IOException { return real.read(dst); }
        @Override public long read(ByteBuffer[] dsts, int offset, int length) throws IOException { return real.read(dsts, offset, length); }
        @Override public int write(ByteBuffer src) throws IOException { return real.write(src); }
        @Override public long write(ByteBuffer[] srcs, int offset, int length) throws IOException { return real.write(srcs, offset, length); }
        @Override public long position() throws IOException { return real.position(); }
        @Override public FileChannel position(long newPosition) throws IOException { real.position(newPosition); return this; }
        @Override public long size() throws IOException { return real.size(); }
        @Override public FileChannel truncate(long size) throws IOException { real.truncate(size); return this; }
        @Override public void force(boolean metaData) throws IOException { real.force(metaData); }
        @Override public long transferTo(long position, long count, WritableByteChannel target) throws IOException { return real.transferTo(position, count, target); }
        @Override public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException { return real.transferFrom(src, position, count); }
        @Override public int read(ByteBuffer dst, long position) throws IOException { return real.read(dst, position); }
        @Override public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException { return real.map(mode, position, size); }
        @Override public FileLock lock(long position, long size, boolean shared) throws IOException { return real.lock(position, size, shared); }
        @Override public FileLock tryLock(long position, long size, boolean shared) throws IOException { return real.tryLock(position, size, shared); }
        @Override protected void implCloseChannel() {
            // the real channel is closed by its own try-with-resources
        }
    }
}
