package dev.daxload.image;

import static dev.daxload.image.DaxfsLayout.*;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
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
    private final AtomicBoolean closed = new AtomicBoolean();
    private int pins; // guarded by this; the mapping outlives close() while pins are held
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
     * device such as {@code /dev/dax0.0}) as {@code options} say, checks it and indexes it. One mapping
     * per image; it lives until {@link #close()}.
     *
     * @throws DaxFormatException if the image breaks a rule that makes reading it unsafe
     * @throws IOException if the file cannot be opened or mapped
     */
    public static DaxImage open(Path file, MapOptions options) throws IOException {
        Arena arena = Arena.ofShared();
        try {
            return checked(file.toString(), Mmap.map(file, options, arena), arena);
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
            return checked(what, Mmap.map(Path.of("/dev/mem"), address, size, options, arena), arena);
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
     * and repeated slashes are ignored; {@code "/"} and {@code ""} name the root.
     */
    public Optional<DaxInode> lookup(String path) {
        ensureOpen();
        Long ino = index.paths().get(normalize(path));
        return ino == null ? Optional.empty() : Optional.of(inode(ino));
    }

    /**
     * The inode at {@code path}, following symlinks in every component as the kernel would with the
     * image as root: {@code ..} never climbs above the root, absolute targets start at the root.
     *
     * @throws java.nio.file.NoSuchFileException if a component does not exist
     * @throws java.nio.file.FileSystemException if symlinks loop or a component is not a directory
     */
    public DaxInode resolve(String path) throws IOException {
        ensureOpen();
        List<String> done = new ArrayList<>();
        ArrayList<String> todo = new ArrayList<>(List.of(split(path)));
        java.util.Collections.reverse(todo); // a stack: last element is the next component
        int hops = 0;
        DaxInode current = root();
        while (!todo.isEmpty()) {
            String part = todo.removeLast();
            if (part.equals(".")) {
                continue;
            }
            if (part.equals("..")) {
                if (!current.isDirectory()) {
                    throw new java.nio.file.FileSystemException(source, null, "/" + String.join("/", done) + " is not a directory");
                }
                if (!done.isEmpty()) {
                    done.removeLast();
                }
                current = inode(index.paths().get(String.join("/", done)));
                continue;
            }
            if (!current.isDirectory()) {
                throw new java.nio.file.FileSystemException(source, null, "/" + String.join("/", done) + " is not a directory");
            }
            done.add(part);
            String joined = String.join("/", done);
            Long ino = index.paths().get(joined);
            if (ino == null) {
                throw new java.nio.file.NoSuchFileException(source + ":/" + joined);
            }
            DaxInode next = inode(ino);
            if (next.isSymlink()) {
                if (++hops > MAX_SYMLINK_HOPS) {
                    throw new java.nio.file.FileSystemException(source + ":/" + path, null, "too many levels of symbolic links");
                }
                done.removeLast();
                String target = readSymlink(next);
                if (target.startsWith("/")) {
                    done.clear();
                }
                String[] parts = split(target);
                for (int i = parts.length - 1; i >= 0; i--) {
                    todo.add(parts[i]);
                }
                current = inode(index.paths().get(String.join("/", done)));
            } else {
                current = next;
            }
        }
        return current;
    }

    /** Entries of a directory, sorted by name. */
    public List<DaxEntry> list(String dirPath) throws IOException {
        DaxInode dir = resolve(dirPath);
        if (!dir.isDirectory()) {
            throw new java.nio.file.NotDirectoryException(source + ":/" + normalize(dirPath));
        }
        String prefix = canonicalPath(dirPath);
        List<DaxEntry> out = new ArrayList<>();
        forEachEntry(dir, prefix, out::add);
        out.sort(Comparator.comparing(DaxEntry::name));
        return out;
    }

    /** Path of the directory {@code path} names after symlinks are resolved, without a leading slash. */
    private String canonicalPath(String path) throws IOException {
        return index.directoryPaths().get(resolve(path).ino());
    }

    /** Calls {@code action} for each entry of {@code dir}, in stored order. */
    private void forEachEntry(DaxInode dir, String dirPath, Consumer<DaxEntry> action) {
        long count = dir.entryCount();
        for (long k = 0; k < count; k++) {
            long at = index.base() + dir.dataOffset() + k * DIRENT_STRIDE;
            int len = Short.toUnsignedInt(segment.get(U16, at + DIRENT_NAME_LEN));
            String name = new String(segment.asSlice(at + DIRENT_NAME, len).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            String path = dirPath.isEmpty() ? name : dirPath + "/" + name;
            action.accept(new DaxEntry(name, path, inode(Integer.toUnsignedLong(segment.get(U32, at + DIRENT_INO)))));
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

    /** The target of a symlink, as stored. */
    public String readSymlink(DaxInode link) {
        ensureOpen();
        if (!link.isSymlink()) {
            throw new IllegalArgumentException("inode " + link.ino() + " is not a symlink");
        }
        byte[] bytes = segment.asSlice(index.base() + link.dataOffset(), link.size()).toArray(ValueLayout.JAVA_BYTE);
        return new String(bytes, StandardCharsets.UTF_8);
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
            unmap = --pins == 0 && closed.get();
        }
        if (unmap && arena != null) {
            arena.close();
        }
    }

    /**
     * Closes the image. Idempotent. If this object owns the mapping it is unmapped now, or, while
     * {@link #pin pins} are held, when the last is released. Segments handed out earlier become
     * inaccessible once it is unmapped: reading them throws {@link IllegalStateException}.
     */
    @Override
    public void close() {
        boolean unmap;
        synchronized (this) {
            unmap = closed.compareAndSet(false, true) && pins == 0;
        }
        if (unmap && arena != null) {
            arena.close();
        }
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

    private static String[] split(String path) {
        return java.util.Arrays.stream(path.split("/")).filter(s -> !s.isEmpty()).toArray(String[]::new);
    }

    @Override
    public String toString() {
        return "DaxImage[" + source + ", " + segment.byteSize() + " bytes, " + index.inodeCount() + " inodes]";
    }
}
