package dev.daxload.packager.source;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Little-endian, buffered reads from a window {@code [start, end)} of an untrusted file. Every read checks
 * that the bytes exist before touching them, so a header field can never make the reader allocate or
 * seek past what the file really holds; failures are {@link SourceFormatException}s naming the field and
 * its offset.
 */
final class BoundedReader {
    private static final int BUFFER = 64 * 1024;

    private final Path file;
    private final FileChannel channel;
    private final long end;
    private final ByteBuffer buf = ByteBuffer.allocate(BUFFER).order(ByteOrder.LITTLE_ENDIAN);
    /** Bytes handed out by {@link #bytes} so far: they are kept (names, metadata), so they count together. */
    private long held;
    /** Heap per byte read: the bytes, the string, its place in the metadata JSON and the manifest. */
    private static final int HEAP_PER_BYTE = 4;
    /** File offset of {@code buf}'s first byte. */
    private long bufStart;

    BoundedReader(Path file, FileChannel channel, long start, long end) {
        this.file = file;
        this.channel = channel;
        this.end = end;
        this.bufStart = start;
        buf.limit(0);
    }

    Path file() {
        return file;
    }

    /** Reads the numbers that follow in {@code order} (little-endian until told otherwise). */
    void order(ByteOrder order) {
        buf.order(order);
    }

    /** File offset of the next byte to be read. */
    long position() {
        return bufStart + buf.position();
    }

    /** Bytes left before the end of the window. */
    long remaining() {
        return end - position();
    }

    SourceFormatException error(long offset, String message) {
        return new SourceFormatException(file, offset, message);
    }

    /** Makes sure {@code n <= remaining()}, naming {@code field} otherwise. */
    void require(long n, String field) throws SourceFormatException {
        if (n < 0 || n > remaining()) {
            throw error(position(), field + " needs " + Long.toUnsignedString(n) + " bytes but only " + remaining()
                    + " remain (file ends at " + end + ")");
        }
    }

    private void fill(int n, String field) throws IOException {
        require(n, field);
        if (buf.remaining() >= n) {
            return;
        }
        long pos = position();
        buf.clear();
        bufStart = pos;
        int want = (int) Math.min(BUFFER, end - pos);
        buf.limit(want);
        while (buf.hasRemaining()) {
            int r = channel.read(buf, bufStart + buf.position());
            if (r < 0) {
                throw error(bufStart + buf.position(), field + ": the file ended early (was it changed while reading?)");
            }
        }
        buf.flip();
    }

    int u8(String field) throws IOException {
        fill(1, field);
        return buf.get() & 0xFF;
    }

    short i16(String field) throws IOException {
        fill(2, field);
        return buf.getShort();
    }

    int i32(String field) throws IOException {
        fill(4, field);
        return buf.getInt();
    }

    long u32(String field) throws IOException {
        return i32(field) & 0xFFFF_FFFFL;
    }

    /** A raw 64-bit value; callers decide whether it is signed or unsigned. */
    long i64(String field) throws IOException {
        fill(8, field);
        return buf.getLong();
    }

    float f32(String field) throws IOException {
        return Float.intBitsToFloat(i32(field));
    }

    double f64(String field) throws IOException {
        return Double.longBitsToDouble(i64(field));
    }

    /** Reads {@code n} bytes; {@code n} is checked against the window before anything is allocated. */
    byte[] bytes(long n, String field) throws IOException {
        require(n, field);
        if (n > Integer.MAX_VALUE - 16) {
            throw error(position(), field + " of " + n + " bytes is too large to hold in memory");
        }
        held += n;
        MemoryBudget.require(file, position(), held == n ? field : field + " (with the " + (held - n) + " bytes of names and strings before it)",
                held, HEAP_PER_BYTE);
        byte[] out = new byte[(int) n];
        int done = 0;
        while (done < out.length) {
            if (!buf.hasRemaining()) {
                fill(Math.min(BUFFER, out.length - done), field);
            }
            int k = Math.min(buf.remaining(), out.length - done);
            buf.get(out, done, k);
            done += k;
        }
        return out;
    }

    /** Skips {@code n} bytes, which must exist. */
    void skip(long n, String field) throws SourceFormatException {
        require(n, field);
        if (n <= buf.remaining()) {
            buf.position(buf.position() + (int) n);
        } else {
            bufStart = position() + n;
            buf.limit(0);
        }
    }

    /** Strict UTF-8 decoding: a name that is not UTF-8 is refused, not silently altered. */
    String utf8(byte[] bytes, long offset, String field) throws SourceFormatException {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw error(offset, field + " is not valid UTF-8");
        }
    }
}
