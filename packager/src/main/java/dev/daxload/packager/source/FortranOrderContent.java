package dev.daxload.packager.source;

import dev.daxload.packager.image.FileContent;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileChannel.MapMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * A column-major (Fortran-order) array written into the image in row-major (C) order, which is the only
 * layout a daxload manifest describes. The source is mapped, not read into the heap, and gathered
 * element by element into one bounded output buffer; a source that is not a plain file range (a deflated
 * {@code .npz} member) is first inflated into a temporary file that is deleted when the write ends.
 */
public final class FortranOrderContent implements FileContent {
    private static final int CHUNK = 1 << 20;

    private final FileContent raw;
    private final long[] shape;
    private final int elementSize;
    private final int unit;

    /**
     * @param raw the array's bytes exactly as stored: column-major, in the source byte order
     * @param shape the array's dimensions, outermost first (as numpy reports them)
     * @param elementSize bytes per element
     * @param unit byte-swap unit for big-endian sources, 1 for none
     */
    public FortranOrderContent(FileContent raw, long[] shape, int elementSize, int unit) {
        this.raw = raw;
        this.shape = shape.clone();
        this.elementSize = elementSize;
        this.unit = unit;
        long n = Dtypes.byteLength(Dtypes.elementCount(shape), elementSize * 8);
        if (n != raw.size() || elementSize < 1 || unit < 1 || elementSize % unit != 0) {
            throw new IllegalArgumentException("Fortran-order array " + Arrays.toString(shape) + " x " + elementSize
                    + " bytes does not match its " + raw.size() + " source bytes");
        }
    }

    @Override
    public long size() {
        return raw.size();
    }

    @Override
    public void writeTo(FileChannel image, long position) throws IOException {
        long size = raw.size();
        if (size == 0) {
            return;
        }
        if (raw instanceof FileRange r) {
            try (FileChannel src = r.open(); Arena arena = Arena.ofConfined()) {
                gather(src.map(MapMode.READ_ONLY, r.offset(), size, arena), image, position);
            }
            return;
        }
        Path tmp = Files.createTempFile("daxload-fortran-", ".raw");
        try (FileChannel t = FileChannel.open(tmp, StandardOpenOption.READ, StandardOpenOption.WRITE,
                StandardOpenOption.DELETE_ON_CLOSE); Arena arena = Arena.ofConfined()) {
            raw.writeTo(t, 0);
            gather(t.map(MapMode.READ_ONLY, 0, size, arena), image, position);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Walks the output in C order; the source stride of axis k is the product of the axes before it. The
     * reads jump through the mapping (the innermost output axis is the outermost source axis), so a very
     * large column-major array costs memory latency, not heap; such arrays are rare enough that a tiled
     * transpose has not been worth its complexity.
     */
    private void gather(MemorySegment src, FileChannel image, long position) throws IOException {
        int n = shape.length;
        long[] stride = new long[n];
        long s = elementSize;
        for (int k = 0; k < n; k++) {
            stride[k] = s;
            s *= shape[k];
        }
        long inner = n == 0 ? 1 : shape[n - 1];
        long innerStride = n == 0 ? 0 : stride[n - 1];
        long[] idx = new long[Math.max(n - 1, 0)];
        byte[] out = new byte[CHUNK - CHUNK % elementSize];
        MemorySegment outSeg = MemorySegment.ofArray(out);
        int fill = 0;
        long written = 0;
        long total = raw.size();
        long base = 0;
        while (written + fill < total) {
            for (long j = 0; j < inner; j++) {
                long at = base + j * innerStride;
                switch (elementSize) {
                    case 1 -> out[fill] = src.get(ValueLayout.JAVA_BYTE, at);
                    case 2 -> outSeg.set(ValueLayout.JAVA_SHORT_UNALIGNED, fill, src.get(ValueLayout.JAVA_SHORT_UNALIGNED, at));
                    case 4 -> outSeg.set(ValueLayout.JAVA_INT_UNALIGNED, fill, src.get(ValueLayout.JAVA_INT_UNALIGNED, at));
                    case 8 -> outSeg.set(ValueLayout.JAVA_LONG_UNALIGNED, fill, src.get(ValueLayout.JAVA_LONG_UNALIGNED, at));
                    default -> MemorySegment.copy(src, at, outSeg, fill, elementSize);
                }
                fill += elementSize;
                if (fill == out.length) {
                    flush(out, fill, image, position + written);
                    written += fill;
                    fill = 0;
                }
            }
            // odometer over the outer axes, last of them fastest
            for (int k = n - 2; k >= 0; k--) {
                idx[k]++;
                base += stride[k];
                if (idx[k] < shape[k]) {
                    break;
                }
                base -= idx[k] * stride[k];
                idx[k] = 0;
            }
        }
        if (fill > 0) {
            flush(out, fill, image, position + written);
        }
    }

    private void flush(byte[] out, int len, FileChannel image, long at) throws IOException {
        ByteSwap.swap(out, 0, len, unit);
        ByteSwappingContent.writeFully(image, ByteBuffer.wrap(out, 0, len), at);
    }

    @Override
    public String describe() {
        return raw.describe() + ", Fortran order " + Arrays.toString(shape) + " rewritten in C order"
                + (unit > 1 ? " and byte-swapped" : "");
    }
}
