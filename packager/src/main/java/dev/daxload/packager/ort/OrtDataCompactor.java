package dev.daxload.packager.ort;

import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageLayout;
import dev.daxload.packager.image.ImageTree.RegularFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Keeps the weights of an ORT form once in the image: ORT's data file holds a copy of every initializer
 * of the optimized graph, most of them byte for byte the model's own tensors, which the image already
 * holds page-aligned. Those initializers are pointed at the tensor files; only what ORT changed or made
 * (fused or transposed initializers, the serialized prepacked blobs) stays in a new, smaller data file.
 * A tensor is shared only when ORT's bytes and the model's are equal, compared here byte by byte, so
 * answers cannot change. Ranges kept in the new file keep their offset within a 4 KiB page, so every
 * blob has the alignment in memory that ORT gave it.
 */
final class OrtDataCompactor {
    private static final long PAGE = 4096;

    /** One range of ORT's data file that stays: where it was, where it goes in the new file. */
    record Kept(long from, long to, long length) {}

    /**
     * The outcome: the new data file and where every byte of ORT's graph now lies.
     *
     * @param data the new data file (in the form's temporary directory)
     * @param size its size
     * @param originalSize the size of ORT's data file, which the graph's ranges are checked against
     * @param shared initializers served from the model's tensor files, by {@link #key}
     * @param sharedBytes bytes no longer stored twice
     */
    record Compaction(Path data, long size, long originalSize, Map<String, RegularFile> shared, List<Kept> kept, long sharedBytes) {
        /** Where each range lies once the image's layout is final and the new data file sits at {@code dataNode}. */
        OrtGraphRelocator.Placement placement(ImageLayout layout, RegularFile dataNode) {
            long base = size == 0 ? 0 : layout.offsetOf(dataNode);
            return new OrtGraphRelocator.Placement() {
                @Override
                public long tensor(String name, long offset, long length) throws IOException {
                    RegularFile t = shared.get(key(name, offset));
                    return t != null ? layout.offsetOf(t) : base + moved(offset, length);
                }

                @Override
                public long blob(long offset, long length) throws IOException {
                    return base + moved(offset, length);
                }
            };
        }

        private long moved(long offset, long length) throws IOException {
            for (Kept k : kept) {
                if (offset >= k.from() && offset - k.from() + length <= k.length()) {
                    return k.to() + (offset - k.from());
                }
            }
            throw new IOException("range [" + offset + ", +" + length + ") of ORT's data file was not kept"); // cannot happen: every range was collected
        }
    }

    private OrtDataCompactor() {}

    static String key(String name, long offset) {
        return offset + "@" + name;
    }

    /**
     * @param graph ORT's optimized graph
     * @param data ORT's data file
     * @param tensors the model's tensor file for a tensor name, or null
     * @param where names the graph in errors
     */
    static Compaction compact(byte[] graph, Path data, Function<String, RegularFile> tensors, String where) throws IOException {
        long dataSize = Files.size(data);
        List<long[]> ranges = new ArrayList<>();
        Map<String, RegularFile> shared = new HashMap<>();
        long sharedBytes = 0;
        try (FileChannel in = FileChannel.open(data, StandardOpenOption.READ)) {
            List<String[]> named = new ArrayList<>();
            // The relocator visits every external reference (nested graphs and prepacked blobs included) and checks its range.
            OrtGraphRelocator.relocate(graph, OrtOptimizer.DATA_NAME, dataSize, new OrtGraphRelocator.Placement() {
                @Override
                public long tensor(String name, long offset, long length) {
                    named.add(new String[] {name, Long.toString(offset), Long.toString(length)});
                    return 0;
                }

                @Override
                public long blob(long offset, long length) {
                    ranges.add(new long[] {offset, length});
                    return 0;
                }
            }, where);
            for (String[] n : named) {
                long offset = Long.parseLong(n[1]);
                long length = Long.parseLong(n[2]);
                RegularFile t = length == 0 ? null : tensors.apply(n[0]);
                if (t != null && t.content().size() == length && sameBytes(t.content(), in, offset)) {
                    shared.put(key(n[0], offset), t);
                    sharedBytes += length;
                } else {
                    ranges.add(new long[] {offset, length});
                }
            }
            List<Kept> kept = place(ranges);
            Path out = data.resolveSibling("model.kept.data");
            long size = 0;
            try (FileChannel o = FileChannel.open(out, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                for (Kept k : kept) {
                    copy(in, k.from(), o, k.to(), k.length());
                    size = Math.max(size, k.to() + k.length());
                }
            }
            return new Compaction(out, size, dataSize, shared, kept, sharedBytes);
        }
    }

    /** Merges overlapping ranges and packs them, each keeping its offset within a page. */
    private static List<Kept> place(List<long[]> ranges) {
        ranges.sort(Comparator.comparingLong((long[] r) -> r[0]));
        List<long[]> merged = new ArrayList<>();
        for (long[] r : ranges) {
            if (r[1] == 0) {
                continue;
            }
            long[] last = merged.isEmpty() ? null : merged.get(merged.size() - 1);
            if (last != null && r[0] <= last[0] + last[1]) {
                last[1] = Math.max(last[1], r[0] + r[1] - last[0]);
            } else {
                merged.add(Arrays.copyOf(r, 2));
            }
        }
        List<Kept> kept = new ArrayList<>();
        long pos = 0;
        for (long[] r : merged) {
            long to = pos + Math.floorMod(r[0] - pos, PAGE);
            kept.add(new Kept(r[0], to, r[1]));
            pos = to + r[1];
        }
        return kept;
    }

    /** Whether {@code content} holds the bytes at {@code offset} of {@code data} (its size already matched). */
    private static boolean sameBytes(FileContent content, FileChannel data, long offset) throws IOException {
        if (content instanceof FileContent.Bytes b) {
            ByteBuffer mine = ByteBuffer.allocate(b.bytes().length);
            readFully(data, mine, offset);
            return mine.flip().equals(ByteBuffer.wrap(b.bytes()));
        }
        if (!(content instanceof FileContent.FileRange r)) {
            return false; // no cheap way to read it: kept in ORT's file, which is never wrong
        }
        try (FileChannel src = r.open()) {
            ByteBuffer a = ByteBuffer.allocateDirect(1 << 20);
            ByteBuffer b = ByteBuffer.allocateDirect(1 << 20);
            for (long done = 0; done < r.length(); ) {
                int n = (int) Math.min(a.capacity(), r.length() - done);
                a.clear().limit(n);
                b.clear().limit(n);
                readFully(src, a, r.offset() + done);
                readFully(data, b, offset + done);
                if (!a.flip().equals(b.flip())) {
                    return false;
                }
                done += n;
            }
            return true;
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, position);
            if (n < 0) {
                throw new IOException("unexpected end of file at byte " + position);
            }
            position += n;
        }
    }

    private static void copy(FileChannel in, long from, FileChannel out, long to, long length) throws IOException {
        for (long done = 0; done < length; ) {
            long n = in.transferTo(from + done, length - done, out.position(to + done));
            if (n <= 0) {
                throw new IOException("ORT's data file: copy stopped at byte " + (from + done));
            }
            done += n;
        }
    }
}
