package dev.daxload.image;

import dev.daxload.image.internal.ImageValidator;
import dev.daxload.image.internal.Mmap;
import dev.daxload.image.internal.MountedImage;
import static dev.daxload.image.internal.DaxfsLayout.*;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * A DAXFS image in memory, checked and indexed: paths are looked up in O(1), file contents are slices
 * of the one mapping, never copies.
 *
 * <p>An image opened with {@link #open(Path)} owns its mapping: one shared {@link Arena}, closed
 * exactly once by {@link #close()}. Any later use of this object or of a segment it handed out throws
 * {@link IllegalStateException}; it never reads unmapped memory. An image made with
 * {@link #of(MemorySegment, String)} reads memory that the caller owns and closes nothing.
 *
 * <p>Thread-safe: the index is immutable and the image is never written.
 */
public final class DaxImage implements AutoCloseable {
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Linux gives up after 40 symlinks in one lookup; so do we. */
    private static final int MAX_SYMLINK_HOPS = 40;

    private final String source;
    private final MemorySegment segment;
    private final Arena arena; // null when the caller owns the memory
    private volatile boolean fixedSize; // the memory cannot lose pages under us (device, sealed memfd)
    private volatile Path sizeProbe; // a file whose seals isFixedSize asks on first use (not at open: it links downcalls)
    private boolean mappedHere; // the mapping is Mmap's: it can be retired to zero pages rather than unmapped
    private volatile boolean pinnedEver; // native code was handed views: it may still read after the last unpin
    private final AtomicBoolean closed = new AtomicBoolean();
    private int pins; // guarded by this; the mapping outlives close() while pins are held
    private int readers; // guarded by this; close() waits for these short reads (checks) to stop
    private final Object unmapLock = new Object(); // held while unmapping: a second caller waits for the first
    private volatile boolean unmapped; // the arena is closed exactly once
    private final ImageValidator.Result validation;
    private final ImageValidator.Index index;

    private DaxImage(String source, MemorySegment segment, Arena arena, ImageValidator.Result validation) {
        this.source = source;
        this.segment = segment;
        this.arena = arena;
        this.validation = validation;
        this.index = validation.index();
    }

    /**
     * Maps an image file read-only and shared, checks it and indexes it.
     *
     * @throws DaxFormatException if the image breaks a rule that makes reading it unsafe
     * @throws IOException if the file cannot be opened or mapped
     */
    public static DaxImage open(Path file) throws IOException {
        return open(file, MapOptions.readOnly());
    }

    /**
     * Maps an image (a regular file, a file on tmpfs or hugetlbfs, a file on a mounted DAXFS, or a DAX
     * device such as {@code /dev/dax0.0}) as {@code options} say, checks it and indexes it; or, for a
     * directory of a mounted DAXFS, the mounted memory itself ({@link MountedImage}). One mapping per
     * image; it lives until {@link #close()}.
     *
     * @throws DaxFormatException if the image breaks a rule that makes reading it unsafe
     * @throws IOException if the file cannot be opened or mapped
     */
    public static DaxImage open(Path file, MapOptions options) throws IOException {
        if (java.nio.file.Files.isDirectory(file)) {
            return MountedImage.open(file, options);
        }
        Arena arena = Arena.ofShared();
        try {
            DaxImage image = checked(file.toString(), Mmap.map(file, options, arena), arena);
            image.sizeProbe = file;
            image.mappedHere = true;
            return image;
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Maps an image that lies at a physical address (memory set aside with {@code memmap=}, CXL
     * memory, the range a {@code phys=} mount uses) through {@code /dev/mem}. Needs root and a
     * kernel that lets {@code /dev/mem} reach the range ({@code CONFIG_STRICT_DEVMEM} refuses RAM
     * the kernel owns).
     *
     * @param address the physical address of the superblock, page-aligned
     * @param size bytes to map: the image's size, or more
     */
    public static DaxImage openPhysical(long address, long size, MapOptions options) throws IOException {
        Arena arena = Arena.ofShared();
        String what = String.format("/dev/mem@0x%x", address);
        try {
            DaxImage image = checked(what, Mmap.map(Path.of("/dev/mem"), address, size, options, arena), arena).declareFixedSize();
            image.mappedHere = true;
            return image;
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Reads an image from memory the caller owns (a mapping of a device, a dma-buf, GPU-visible host
     * memory): the caller keeps it alive while this image is used, and {@link #close()} leaves it be.
     *
     * @param memory the whole image, starting at its superblock
     * @param source a name for messages (a path, a device)
     */
    public static DaxImage of(MemorySegment memory, String source) throws DaxFormatException {
        return checked(source, memory, null);
    }

    /**
     * Takes ownership of {@code arena}: the image closes it when it is closed, or before this method
     * throws if the memory does not hold a readable image. For memory sources other than files (see dmabuf-bridge).
     */
    public static DaxImage adopt(MemorySegment memory, Arena arena, String source) throws DaxFormatException {
        try {
            return checked(source, memory, arena);
        } catch (DaxFormatException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static DaxImage checked(String source, MemorySegment seg, Arena arena) throws DaxFormatException {
        ImageValidator.Result result = ImageValidator.validate(seg);
        if (!result.readable()) {
            ImageProblem first = result.problems().stream()
                    .filter(p -> p.severity() == ImageProblem.Severity.ERROR).findFirst().orElseThrow();
            throw new DaxFormatException(source, first, (int) result.errorCount() - 1 + result.droppedProblems());
        }
        return new DaxImage(source, seg, arena, result);
    }

    /** Where the image came from, for messages. */
    public String source() {
        return source;
    }

    /** The whole image. */
    public MemorySegment segment() {
        ensureOpen();
        return segment;
    }

    public Superblock superblock() {
        return validation.superblock();
    }

    /** Warnings found at open (errors make {@code open} fail). */
    public List<ImageProblem> warnings() {
        return validation.problems();
    }

    public long inodeCount() {
        return index.inodeCount();
    }

    /** Absolute offset in the image of a base-relative data offset. */
    public long absoluteOffset(long dataOffset) {
        return index.base() + dataOffset;
    }

    /** The inode with number {@code ino}, 1-based. */
    public DaxInode inode(long ino) {
        ensureOpen();
        if (ino < 1 || ino > index.inodeCount()) {
            throw new IllegalArgumentException("inode " + ino + " is out of range 1.." + index.inodeCount());
        }
        return DaxInode.read(segment, index.inodeTable() + (ino - 1) * INODE_SIZE, ino);
    }

    public DaxInode root() {
        return inode(index.rootInode());
    }

    /**
     * The inode at {@code path}, without following symlinks (like {@code lstat}). Leading, trailing
     * and repeated slashes are ignored; {@code "/"} and {@code ""} name the root. Time linear in the
     * path's length.
     */
    public Optional<DaxInode> lookup(String path) {
        ensureOpen();
        long ino = index.rootInode();
        for (String part : split(path)) {
            Long next = index.child(ino, part);
            if (next == null) {
                return Optional.empty();
            }
            ino = next;
        }
        return Optional.of(inode(ino));
    }

    /**
     * The inode at {@code path}, following symlinks in every component as the kernel would with the
     * image as root: {@code ..} never climbs above the root, absolute targets start at the root.
     * Time linear in the components walked.
     *
     * @throws java.nio.file.NoSuchFileException if a component does not exist
     * @throws java.nio.file.FileSystemException if symlinks loop or a component is not a directory
     */
    public DaxInode resolve(String path) throws IOException {
        ensureOpen();
        ArrayList<Long> done = new ArrayList<>(); // the directories walked into, below the root
        ArrayList<String> todo = new ArrayList<>(List.of(split(path)));
        java.util.Collections.reverse(todo); // a stack: last element is the next component
        int hops = 0;
        DaxInode current = root();
        while (!todo.isEmpty()) {
            String part = todo.removeLast();
            if (part.equals(".")) {
                continue;
            }
            if (!current.isDirectory()) {
                throw new java.nio.file.FileSystemException(source, null, "/" + pathOfDirs(done) + " is not a directory");
            }
            if (part.equals("..")) {
                if (!done.isEmpty()) {
                    done.removeLast();
                }
                current = inode(done.isEmpty() ? index.rootInode() : done.getLast());
                continue;
            }
            Long ino = index.child(current.ino(), part);
            if (ino == null) {
                String at = pathOfDirs(done);
                throw new java.nio.file.NoSuchFileException(source + ":/" + (at.isEmpty() ? part : at + "/" + part));
            }
            DaxInode next = inode(ino);
            if (next.isSymlink()) {
                if (++hops > MAX_SYMLINK_HOPS) {
                    throw new java.nio.file.FileSystemException(source + ":/" + path, null, "too many levels of symbolic links");
                }
                String target = readSymlink(next);
                if (target.startsWith("/")) {
                    done.clear();
                }
                String[] parts = split(target);
                for (int i = parts.length - 1; i >= 0; i--) {
                    todo.add(parts[i]);
                }
                current = inode(done.isEmpty() ? index.rootInode() : done.getLast());
            } else {
                done.add(ino);
                current = next;
            }
        }
        return current;
    }

    private String pathOfDirs(List<Long> dirs) {
        return dirs.isEmpty() ? "" : index.pathOf(dirs.getLast());
    }

    /** Entries of a directory, sorted by name. */
    public List<DaxEntry> list(String dirPath) throws IOException {
        DaxInode dir = resolve(dirPath);
        if (!dir.isDirectory()) {
            throw new java.nio.file.NotDirectoryException(source + ":/" + normalize(dirPath));
        }
        return list(dir);
    }

    /**
     * Entries of directory {@code dir}, sorted by name, with their full paths: time linear in the
     * entries and the directory's depth, whatever path led to it (for recursive listings).
     */
    public List<DaxEntry> list(DaxInode dir) {
        ensureOpen();
        if (!dir.isDirectory()) {
            throw new IllegalArgumentException("inode " + dir.ino() + " is not a directory");
        }
        List<DaxEntry> out = new ArrayList<>();
        forEachEntry(dir, index.pathOf(dir.ino()), out::add);
        out.sort(Comparator.comparing(DaxEntry::name));
        return out;
    }

    /** Path of directory {@code dir} from the root, without a leading slash ({@code ""} for the root). */
    public String pathOf(DaxInode dir) {
        if (!dir.isDirectory()) {
            throw new IllegalArgumentException("inode " + dir.ino() + " is not a directory");
        }
        return index.pathOf(dir.ino());
    }

    /** Calls {@code action} for each entry of {@code dir}, in stored order. */
    private void forEachEntry(DaxInode dir, String dirPath, Consumer<DaxEntry> action) {
        long count = dir.entryCount();
        for (long k = 0; k < count; k++) {
            long at = index.base() + dir.dataOffset() + k * DIRENT_STRIDE;
            int len = Short.toUnsignedInt(segment.get(U16, at + DIRENT_NAME_LEN));
            String name = DaxNames.decode(segment.asSlice(at + DIRENT_NAME, len).toArray(ValueLayout.JAVA_BYTE));
            action.accept(DaxEntry.in(dirPath, name, inode(Integer.toUnsignedLong(segment.get(U32, at + DIRENT_INO)))));
        }
    }

    /**
     * Every entry of the tree, depth first, each directory's entries sorted by name; the root itself is
     * not included. Hard links appear once per name.
     */
    public void walk(Consumer<DaxEntry> action) {
        ensureOpen();
        walk(root(), "", action);
    }

    /**
     * Every entry below directory {@code dir}, depth first, each directory's entries sorted by name;
     * {@code dir} itself is not included. Paths are full paths from the image root.
     */
    public void walk(DaxInode dir, Consumer<DaxEntry> action) {
        ensureOpen();
        walk(dir, pathOf(dir), action);
    }

    private void walk(DaxInode dir, String path, Consumer<DaxEntry> action) {
        List<DaxEntry> entries = new ArrayList<>();
        forEachEntry(dir, path, entries::add);
        entries.sort(Comparator.comparing(DaxEntry::name));
        for (DaxEntry e : entries) {
            action.accept(e);
            if (e.inode().isDirectory()) {
                walk(e.inode(), e.path(), action); // depth is bounded: each directory is visited once (validated)
            }
        }
    }

    /** The bytes of a regular file: a slice of the image, not a copy. */
    public MemorySegment content(DaxInode file) {
        ensureOpen();
        if (!file.isRegularFile()) {
            throw new IllegalArgumentException("inode " + file.ino() + " is not a regular file");
        }
        if (file.size() == 0) {
            return MemorySegment.ofArray(new byte[0]); // empty: its data_offset is not meaningful
        }
        return segment.asSlice(index.base() + file.dataOffset(), file.size());
    }

    /** The bytes of the regular file at {@code path}, following symlinks. */
    public MemorySegment content(String path) throws IOException {
        DaxInode inode = resolve(path);
        if (!inode.isRegularFile()) {
            throw new java.nio.file.FileSystemException(source + ":/" + normalize(path), null, "not a regular file");
        }
        return content(inode);
    }

    /** The target of a symlink, as {@link DaxNames#decode} gives it (bytes that are not UTF-8 escaped). */
    public String readSymlink(DaxInode link) {
        return DaxNames.decode(readSymlinkBytes(link));
    }

    /** The target of a symlink, as stored. */
    public byte[] readSymlinkBytes(DaxInode link) {
        ensureOpen();
        if (!link.isSymlink()) {
            throw new IllegalArgumentException("inode " + link.ino() + " is not a symlink");
        }
        return segment.asSlice(index.base() + link.dataOffset(), link.size()).toArray(ValueLayout.JAVA_BYTE);
    }

    /**
     * True when the image's memory cannot lose pages while mapped: a DAX device, a physical range, a
     * memfd sealed against shrinking. False for a plain file, which anyone who may write it can
     * truncate; Java reads of a lost page then throw {@link InternalError} and checksums report it
     * ({@link dev.daxload.tensor.internal.Checksums}), but native code reading a view (libtorch) dies of SIGBUS.
     * Memory handed in by the caller ({@link #of}, {@link #adopt}) counts as a file unless the caller
     * says otherwise with {@link #declareFixedSize()}.
     */
    public boolean isFixedSize() {
        Path probe = sizeProbe;
        if (probe != null) {
            fixedSize |= Mmap.fixedSize(probe);
            sizeProbe = null;
        }
        return fixedSize;
    }

    /**
     * Declares that the memory under this image cannot shrink (a dma-buf, device memory): checksums
     * then read it directly, about twice as fast as through the guarded copy.
     */
    public DaxImage declareFixedSize() {
        fixedSize = true;
        return this;
    }

    /** True until {@link #close()}. */
    public boolean isOpen() {
        return !closed.get();
    }

    /**
     * Keeps the mapping alive until the returned handle is closed, even past {@link #close()}: for
     * memory that native code reads without Java's checks (a libtorch tensor over a view), where an
     * unmapped page would crash the JVM instead of throwing. Closing the handle twice is harmless.
     *
     * @throws IllegalStateException if the image is closed already
     */
    public AutoCloseable pin() {
        synchronized (this) {
            ensureOpen();
            pins++;
        }
        pinnedEver = true;
        AtomicBoolean released = new AtomicBoolean();
        return () -> {
            if (released.compareAndSet(false, true)) {
                unpin();
            }
        };
    }

    private void unpin() {
        boolean unmap;
        synchronized (this) {
            unmap = --pins == 0 && closed.get() && readers == 0;
        }
        if (unmap) {
            unmapOnce();
        }
    }

    /**
     * A short read of the image that {@link #close()} waits for (a checksum pass): the reader polls
     * {@link #isOpen()} between chunks and stops once the image is closed, so close waits at most one
     * chunk. Unlike a {@link #pin}, it is not for memory handed to native code.
     *
     * @throws IllegalStateException if the image is closed already
     */
    public Reader beginRead() {
        synchronized (this) {
            ensureOpen();
            readers++;
        }
        return new Reader();
    }

    /** See {@link #beginRead()}; closing it twice is harmless. */
    public final class Reader implements AutoCloseable {
        private final AtomicBoolean done = new AtomicBoolean();

        private Reader() {}

        /** Throws {@link IllegalStateException} once the image is closing: the reader stops. */
        public void checkOpen() {
            ensureOpen();
        }

        @Override
        public void close() {
            if (!done.compareAndSet(false, true)) {
                return;
            }
            boolean unmap;
            synchronized (DaxImage.this) {
                unmap = --readers == 0 && closed.get() && pins == 0;
                DaxImage.this.notifyAll();
            }
            if (unmap) {
                unmapOnce();
            }
        }
    }

    /**
     * Closes the image. Idempotent. If this object owns the mapping it is unmapped now, or, while
     * {@link #pin pins} are held, when the last is released. Checks running on other threads
     * ({@link #beginRead readers}) stop within one chunk and close waits for them, so the mapping is
     * never left behind by a check. Segments handed out earlier become inaccessible once it is
     * unmapped: reading them throws {@link IllegalStateException}.
     */
    @Override
    public void close() {
        boolean unmap;
        synchronized (this) {
            closed.set(true);
            boolean interrupted = false;
            while (readers > 0) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    interrupted = true; // close must still finish: readers stop within one chunk
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            unmap = pins == 0;
        }
        if (unmap) {
            unmapOnce();
        }
    }

    /**
     * Closes the arena once. A shared arena refuses to close while a JDK operation holds it (an I/O
     * call on a buffer of the image); such holds last one call, so the close is retried until they end.
     */
    private void unmapOnce() {
        synchronized (unmapLock) {
            if (unmapped) {
                return;
            }
            try {
                closeArena();
            } finally {
                unmapped = true;
            }
        }
    }

    private void closeArena() {
        if (arena == null) {
            return;
        }
        if (pinnedEver && mappedHere) {
            // Native code had views (libtorch tensors): an op it began before its NDManager closed may
            // still be reading. The file is released now; the range stays zero pages for a grace period.
            Mmap.retire(segment);
        }
        for (int attempt = 0; ; attempt++) {
            try {
                arena.close();
                return;
            } catch (IllegalStateException busy) {
                if (!arena.scope().isAlive()) {
                    return;
                }
                if (attempt % 1000 == 999) {
                    org.slf4j.LoggerFactory.getLogger(DaxImage.class).warn("image {}: still waiting to unmap: {}", source, busy.getMessage());
                }
                java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
            }
        }
    }

    /** True once the mapping is gone (for tests: the image was unmapped exactly when expected). */
    public boolean isUnmapped() {
        return unmapped;
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new IllegalStateException("image " + source + " is closed");
        }
    }

    static String normalize(String path) {
        if (!path.isEmpty() && path.charAt(0) != '/' && path.charAt(path.length() - 1) != '/' && !path.contains("//")) {
            return path; // already normal: the usual case, without a stream per lookup (an open looks up every tensor)
        }
        return String.join("/", split(path));
    }

    /**
     * The non-empty components of {@code path}. A plain loop, not a stream: an open looks up every
     * tensor, in a fresh JVM's interpreter, where a stream per lookup cost more than the lookup.
     */
    private static String[] split(String path) {
        ArrayList<String> parts = new ArrayList<>(8);
        int from = 0;
        int n = path.length();
        while (from <= n) {
            int slash = path.indexOf('/', from);
            int end = slash < 0 ? n : slash;
            if (end > from) {
                parts.add(path.substring(from, end));
            }
            from = end + 1;
        }
        return parts.toArray(new String[0]);
    }

    @Override
    public String toString() {
        return "DaxImage[" + source + ", " + segment.byteSize() + " bytes, " + index.inodeCount() + " inodes]";
    }
}
