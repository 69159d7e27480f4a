package dev.daxload.packager.table;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A little-endian array written to a temporary file through a small buffer, so that a column never
 * sits in the heap whatever the number of rows.
 */
final class ColumnFile implements AutoCloseable {
    static final int BUFFER = 32 * 1024;

    private final Path path;
    private final FileChannel channel;
    private final ByteBuffer buf = ByteBuffer.allocate(BUFFER).order(ByteOrder.LITTLE_ENDIAN);
    private long size;

    ColumnFile(Path path) throws IOException {
        this.path = path;
        this.channel = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    }

    Path path() {
        return path;
    }

    /** Bytes written so far. */
    long size() {
        return size;
    }

    void putLong(long v) throws IOException {
        room(8);
        buf.putLong(v);
        size += 8;
    }

    void putInt(int v) throws IOException {
        room(4);
        buf.putInt(v);
        size += 4;
    }

    void putDouble(double v) throws IOException {
        room(8);
        buf.putDouble(v);
        size += 8;
    }

    void putFloat(float v) throws IOException {
        room(4);
        buf.putFloat(v);
        size += 4;
    }

    void put(byte[] bytes) throws IOException {
        int at = 0;
        while (at < bytes.length) {
            if (!buf.hasRemaining()) {
                flush();
            }
            int n = Math.min(buf.remaining(), bytes.length - at);
            buf.put(bytes, at, n);
            at += n;
        }
        size += bytes.length;
    }

    private void room(int n) throws IOException {
        if (buf.remaining() < n) {
            flush();
        }
    }

    private void flush() throws IOException {
        buf.flip();
        while (buf.hasRemaining()) {
            channel.write(buf);
        }
        buf.clear();
    }

    @Override
    public void close() throws IOException {
        try {
            flush();
        } finally {
            channel.close();
        }
    }
}
