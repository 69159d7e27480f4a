package dev.daxload.packager.image;

import static dev.daxload.image.internal.DaxfsLayout.*;

import dev.daxload.packager.image.ImageTree.Directory;
import dev.daxload.packager.image.ImageTree.Node;
import dev.daxload.packager.image.ImageTree.RegularFile;
import dev.daxload.packager.image.ImageTree.Symlink;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes an {@link ImageTree} as a static DAXFS v5 image.
 *
 * <p>It streams: file contents go from their sources into the image through a few fixed buffers
 * ({@link DataCopier}: one thread reads and checksums, another writes), and only metadata (a few dozen
 * bytes per node) is held in memory, so the heap needed does not grow with the size of the data. The
 * image is written to an unnamed temporary file beside the target and renamed over it at the end: a
 * failed, interrupted or killed write leaves nothing at the target path (see {@link #write(ImageTree,
 * ImageTarget)} for devices and streams).
 *
 * <p>The layout is a pure function of the tree: inodes are numbered breadth first in name order, data
 * is placed in inode order (directory entry arrays, then symlink targets, then files, then
 * {@link FileContent.Late late} files), so the same tree gives the same bytes.
 */
public final class ImageWriter {
    private long alignment = BLOCK_SIZE;
    private boolean rootOwned;
    private ProgressListener progress = ProgressListener.NONE;
    private FileWrittenListener fileWritten = NO_LISTENER;
    private ImageCheck check;

    private static final FileWrittenListener NO_LISTENER = new FileWrittenListener() {
        @Override
        public boolean wantsChecksum(RegularFile file) {
            return false;
        }

        @Override
        public void written(RegularFile file, long absoluteOffset, long size, int crc32c) {}
    };

    /** Told about each file once its bytes are on their way into the image: where they go, and their checksum. */
    @FunctionalInterface
    public interface FileWrittenListener {
        /**
         * Whether {@link #written} needs the file's CRC32C. The writer takes it while the bytes pass
         * through memory; a file that needs none may be copied by the kernel without passing through it.
         */
        default boolean wantsChecksum(RegularFile file) {
            return true;
        }

        /**
         * Called in the order files are written; the bytes may still be in flight to the image, which
         * is complete only when {@link ImageWriter#write} returns.
         *
         * @param file the file
         * @param absoluteOffset where the file's data starts in the image
         * @param size its length
         * @param crc32c CRC32C of the bytes written, or 0 if {@link #wantsChecksum} said no
         */
        void written(RegularFile file, long absoluteOffset, long size, int crc32c) throws IOException;
    }

    /**
     * Aligns files at least {@code bytes} long to {@code bytes} (a power of two, at least 4096) from
     * the start of the image, so that they can be mapped with huge pages; smaller files stay
     * 4096-aligned.
     */
    public ImageWriter alignment(long bytes) {
        if (bytes < BLOCK_SIZE || Long.bitCount(bytes) != 1) {
            throw new IllegalArgumentException("alignment " + bytes + " is not a power of two of at least " + BLOCK_SIZE);
        }
        this.alignment = bytes;
        return this;
    }

    /** Writes every node as owned by uid 0 and gid 0, whatever the tree says. */
    public ImageWriter rootOwned(boolean rootOwned) {
        this.rootOwned = rootOwned;
        return this;
    }

    public ImageWriter progress(ProgressListener listener) {
        this.progress = listener;
        return this;
    }

    /** Called after each non-empty regular file (late files included) is written. */
    public ImageWriter onFileWritten(FileWrittenListener listener) {
        this.fileWritten = listener;
        return this;
    }

    /** Per-node facts the writer needs, indexed by inode number - 1. */
    private record Placed(Node node, long ino, long nlink) {}

    /**
     * Runs {@code check} on each complete image before it is published (renamed over the target,
     * copied to a device or streamed): an image that fails it is never seen.
     */
    public ImageWriter check(ImageCheck check) {
        this.check = check;
        return this;
    }

    /** Looks at a complete image before anyone else may; throws to stop it being published. */
    @FunctionalInterface
    public interface ImageCheck {
        /**
         * @param image a path that opens the complete image (it may be a {@code /proc/self/fd} link)
         */
        void check(Path image) throws IOException;
    }

    /**
     * Writes {@code tree} to {@code target}, resolved by {@link ImageTarget#resolve}: a file is replaced
     * only once the image is complete, a device is written in place.
     *
     * @return where everything landed
     */
    public ImageLayout write(ImageTree tree, Path target) throws IOException {
        return write(tree, ImageTarget.resolve(target));
    }

    /**
     * Writes {@code tree} to {@code target}. A file is written unnamed beside it ({@code O_TMPFILE}
     * where the filesystem has it) and renamed over it at the end: a failed, interrupted or killed
     * write leaves nothing at the target path and nothing beside it. A device or a FIFO gets a
     * complete, checked image copied in order from a temporary file in {@code java.io.tmpdir}; a
     * device's size is checked before a byte of it is written.
     *
     * @return where everything landed
     */
    public ImageLayout write(ImageTree tree, ImageTarget target) throws IOException {
        return publisher(tree).to(target, knownBytes(tree));
    }

    /**
     * Writes {@code tree} as a stream of bytes in order, to standard output say. The image is made
     * and checked in an unnamed temporary file first, so nothing is sent unless it is complete.
     */
    public ImageLayout write(ImageTree tree, WritableByteChannel out) throws IOException {
        return publisher(tree).to(out, Path.of("-"));
    }

    private ImagePublisher publisher(ImageTree tree) {
        return new ImagePublisher(ch -> writeTo(tree, ch), check);
    }

    /** The bytes of the files whose size is known before writing: a lower bound of the image's size. */
    private static long knownBytes(ImageTree tree) {
        long sum = 0;
        ArrayDeque<Directory> queue = new ArrayDeque<>(List.of(tree.root()));
        while (!queue.isEmpty()) {
            for (var e : queue.poll().entries()) {
                if (e.getValue() instanceof Directory sub) {
                    queue.add(sub);
                } else if (e.getValue() instanceof RegularFile f && !(f.content() instanceof FileContent.Late)) {
                    sum += f.content().size();
                }
            }
        }
        return sum;
    }

    /** Writes the image into an empty channel from position 0. */
    ImageLayout writeTo(ImageTree tree, FileChannel ch) throws IOException {
        List<Placed> placed = number(tree);
        ImageLayout layout = new ImageLayout();
        layout.baseOffset(STATIC_BASE_OFFSET);
        for (Placed p : placed) {
            layout.place(p.node, p.ino);
        }
        int count = placed.size();
        long tableEnd = STATIC_INODE_OFFSET + (long) count * INODE_SIZE;
        long dataStart = alignUp(tableEnd, BLOCK_SIZE);

        // Plan: base-relative data offsets, in inode order within each kind.
        Map<Node, Long> dataOffset = new IdentityHashMap<>();
        long cursor = dataStart;
        for (Placed p : placed) {
            if (p.node instanceof Directory d && d.size() > 0) {
                dataOffset.put(d, cursor);
                cursor = alignUp(cursor + (long) d.size() * DIRENT_STRIDE, BLOCK_SIZE);
            }
        }
        for (Placed p : placed) {
            if (p.node instanceof Symlink s) {
                dataOffset.put(s, cursor);
                cursor = alignUp(cursor + s.targetBytes().length + 1, BLOCK_SIZE);
            }
        }
        long totalFileBytes = 0;
        List<RegularFile> late = new ArrayList<>();
        for (Placed p : placed) {
            if (p.node instanceof RegularFile f) {
                if (f.content() instanceof FileContent.Late) {
                    late.add(f);
                    continue;
                }
                long size = f.content().size();
                if (size == 0) {
                    continue;
                }
                if (alignment > BLOCK_SIZE && size >= alignment) {
                    // Align the file's place in the image, not its base-relative offset: the image
                    // starts on a huge-page boundary in memory, the base image 4096 bytes later.
                    cursor = alignUp(STATIC_BASE_OFFSET + cursor, alignment) - STATIC_BASE_OFFSET;
                }
                dataOffset.put(f, cursor);
                layout.data(f, STATIC_BASE_OFFSET + cursor);
                cursor = alignUp(cursor + size, BLOCK_SIZE);
                totalFileBytes += size;
            }
        }

        // File data first: the largest part, and what late files may describe.
        try (DataCopier copier = new DataCopier(ch)) {
            long written = 0;
            progress.progress(0, totalFileBytes);
            List<RegularFile> files = new ArrayList<>();
            for (Placed p : placed) {
                if (p.node instanceof RegularFile f && dataOffset.containsKey(f)) {
                    files.add(f);
                }
            }
            // stable: contents that do not care keep inode order; streamed ones come in their stream's order
            files.sort(java.util.Comparator.comparingLong(f -> f.content().writeOrder()));
            for (RegularFile f : files) {
                writeFile(copier, f, STATIC_BASE_OFFSET + dataOffset.get(f));
                written += f.content().size();
                progress.progress(written, totalFileBytes);
            }
            for (RegularFile f : late) {
                ((FileContent.Late) f.content()).produce(layout);
                long size = f.content().size();
                if (size == 0) {
                    continue;
                }
                dataOffset.put(f, cursor);
                layout.data(f, STATIC_BASE_OFFSET + cursor);
                writeFile(copier, f, STATIC_BASE_OFFSET + cursor);
                cursor = alignUp(cursor + size, BLOCK_SIZE);
            }
            copier.finish();
        }
        long baseSize = cursor;

        // Metadata.
        Map<Node, Long> inoOf = new IdentityHashMap<>();
        for (Placed p : placed) {
            inoOf.put(p.node, p.ino);
        }
        for (Placed p : placed) {
            if (p.node instanceof Directory d && d.size() > 0) {
                writeDirents(ch, d, inoOf, STATIC_BASE_OFFSET + dataOffset.get(d));
            } else if (p.node instanceof Symlink s) {
                byte[] t = s.targetBytes();
                writeFully(ch, ByteBuffer.allocate(t.length + 1).put(t).put((byte) 0).flip(), STATIC_BASE_OFFSET + dataOffset.get(s));
            }
        }
        writeInodeTable(ch, placed, dataOffset);
        writeBaseSuperblock(ch, count, dataStart, baseSize);
        writeSuperblock(ch, count, baseSize);
        long total = STATIC_BASE_OFFSET + baseSize;
        layout.size(total);
        if (ch.size() < total) {
            // the last slot's padding: a hole reads as zeros and costs no disk
            writeFully(ch, ByteBuffer.allocate(1), total - 1);
        }
        return layout;
    }

    private void writeFile(DataCopier copier, RegularFile f, long at) throws IOException {
        boolean checksum = fileWritten.wantsChecksum(f);
        int crc;
        try {
            crc = f.content() instanceof FileContent.FileRange r
                    ? copier.copy(r, at, checksum)
                    : copier.write(f.content(), at, checksum);
        } catch (IOException e) {
            throw new IOException("while packing " + f.content().describe() + ": " + e.getMessage(), e);
        }
        fileWritten.written(f, at, f.content().size(), crc);
    }

    /** Numbers nodes breadth first, entries in name order; a hard-linked file or symlink keeps its first number. */
    private static List<Placed> number(ImageTree tree) {
        Map<Node, Integer> index = new IdentityHashMap<>();
        List<Node> order = new ArrayList<>();
        Map<Node, Long> links = new IdentityHashMap<>();
        ArrayDeque<Directory> queue = new ArrayDeque<>();
        order.add(tree.root());
        index.put(tree.root(), 0);
        queue.add(tree.root());
        while (!queue.isEmpty()) {
            Directory d = queue.poll();
            for (var e : d.entries()) {
                Node child = e.getValue();
                links.merge(child, 1L, Long::sum);
                if (index.containsKey(child)) {
                    if (child instanceof Directory) {
                        throw new IllegalArgumentException("'" + e.getKey() + "': a directory may not have several names");
                    }
                    continue;
                }
                index.put(child, order.size());
                order.add(child);
                if (child instanceof Directory sub) {
                    queue.add(sub);
                }
            }
        }
        if (order.size() > 0xFFFF_FFFEL) {
            throw new IllegalArgumentException("too many nodes for 32-bit inode numbers");
        }
        List<Placed> placed = new ArrayList<>(order.size());
        for (int i = 0; i < order.size(); i++) {
            Node n = order.get(i);
            long nlink;
            if (n instanceof Directory d) {
                nlink = 2 + d.entries().stream().filter(e -> e.getValue() instanceof Directory).count();
            } else {
                nlink = links.get(n);
            }
            placed.add(new Placed(n, i + 1L, nlink));
        }
        return placed;
    }

    private static int mode(Node n) {
        return n.type() | n.attributes().permissions();
    }

    private static void writeDirents(FileChannel ch, Directory d, Map<Node, Long> inoOf, long at) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(d.size() * DIRENT_STRIDE).order(ByteOrder.LITTLE_ENDIAN);
        int k = 0;
        for (var e : d.entries()) {
            int base = k++ * DIRENT_STRIDE;
            byte[] name = dev.daxload.image.DaxNames.encode(e.getKey());
            buf.putInt(base + DIRENT_INO, (int) (long) inoOf.get(e.getValue()));
            buf.putInt(base + DIRENT_MODE, mode(e.getValue()));
            buf.putShort(base + DIRENT_NAME_LEN, (short) name.length);
            buf.put(base + DIRENT_NAME, name);
        }
        writeFully(ch, buf, at);
    }

    private void writeInodeTable(FileChannel ch, List<Placed> placed, Map<Node, Long> dataOffset) throws IOException {
        final int batch = 1024; // 64 KiB per write: bounded memory for any inode count
        ByteBuffer buf = ByteBuffer.allocate(batch * INODE_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        long at = STATIC_BASE_OFFSET + STATIC_INODE_OFFSET;
        for (int i = 0; i < placed.size(); i += batch) {
            buf.clear();
            int n = Math.min(batch, placed.size() - i);
            for (int j = 0; j < n; j++) {
                Placed p = placed.get(i + j);
                ImageTree.Attributes a = p.node.attributes();
                long size = switch (p.node) {
                    case Directory d -> (long) d.size() * DIRENT_SIZE_UNIT;
                    case Symlink s -> s.targetBytes().length;
                    case RegularFile f -> f.content().size();
                };
                int o = j * INODE_SIZE;
                buf.putInt(o + INODE_INO, (int) p.ino);
                buf.putInt(o + INODE_MODE, mode(p.node));
                buf.putInt(o + INODE_UID, rootOwned ? 0 : (int) a.uid());
                buf.putInt(o + INODE_GID, rootOwned ? 0 : (int) a.gid());
                buf.putLong(o + INODE_SIZE_FIELD, size);
                buf.putLong(o + INODE_DATA_OFFSET, dataOffset.getOrDefault(p.node, 0L));
                buf.putInt(o + INODE_NLINK, (int) p.nlink);
            }
            buf.limit(n * INODE_SIZE);
            at += writeFully(ch, buf, at);
        }
    }

    private static void writeBaseSuperblock(FileChannel ch, int count, long dataStart, long baseSize) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(BLOCK_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(BASE_MAGIC_OFF, BASE_MAGIC);
        b.putInt(BASE_VERSION, VERSION);
        b.putInt(BASE_FLAGS, 0);
        b.putInt(BASE_BLOCK_SIZE, BLOCK_SIZE);
        b.putLong(BASE_TOTAL_SIZE, baseSize);
        b.putLong(BASE_INODE_OFFSET, STATIC_INODE_OFFSET);
        b.putInt(BASE_INODE_COUNT, count);
        b.putInt(BASE_ROOT_INODE, 1);
        b.putLong(BASE_DATA_OFFSET, dataStart);
        writeFully(ch, b, STATIC_BASE_OFFSET);
    }

    private static void writeSuperblock(FileChannel ch, int count, long baseSize) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(BLOCK_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(SB_MAGIC, SUPER_MAGIC);
        b.putInt(SB_VERSION, VERSION);
        b.putInt(SB_FLAGS, 0);
        b.putInt(SB_BLOCK_SIZE, BLOCK_SIZE);
        b.putLong(SB_TOTAL_SIZE, STATIC_BASE_OFFSET + baseSize);
        b.putLong(SB_BASE_OFFSET, STATIC_BASE_OFFSET);
        b.putLong(SB_BASE_SIZE, baseSize);
        b.putLong(SB_NEXT_INODE_ID, count + 1L);
        writeFully(ch, b, 0);
    }

    private static int writeFully(FileChannel ch, ByteBuffer buf, long at) throws IOException {
        int total = buf.remaining();
        while (buf.hasRemaining()) {
            at += ch.write(buf, at);
        }
        return total;
    }
}
