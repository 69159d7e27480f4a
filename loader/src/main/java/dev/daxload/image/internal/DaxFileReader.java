package dev.daxload.image.internal;

import static dev.daxload.image.internal.DaxfsLayout.BASE_FLAGS;
import static dev.daxload.image.internal.DaxfsLayout.BASE_FLAG_EXTERNAL_DATA;
import static dev.daxload.image.internal.DaxfsLayout.BASE_INODE_COUNT;
import static dev.daxload.image.internal.DaxfsLayout.BASE_INODE_OFFSET;
import static dev.daxload.image.internal.DaxfsLayout.BASE_MAGIC;
import static dev.daxload.image.internal.DaxfsLayout.BASE_MAGIC_OFF;
import static dev.daxload.image.internal.DaxfsLayout.BASE_ROOT_INODE;
import static dev.daxload.image.internal.DaxfsLayout.BASE_VERSION;
import static dev.daxload.image.internal.DaxfsLayout.DIRENT_INO;
import static dev.daxload.image.internal.DaxfsLayout.DIRENT_NAME;
import static dev.daxload.image.internal.DaxfsLayout.DIRENT_NAME_LEN;
import static dev.daxload.image.internal.DaxfsLayout.DIRENT_SIZE_UNIT;
import static dev.daxload.image.internal.DaxfsLayout.DIRENT_STRIDE;
import static dev.daxload.image.internal.DaxfsLayout.INODE_DATA_OFFSET;
import static dev.daxload.image.internal.DaxfsLayout.INODE_MODE;
import static dev.daxload.image.internal.DaxfsLayout.INODE_SIZE;
import static dev.daxload.image.internal.DaxfsLayout.INODE_SIZE_FIELD;
import static dev.daxload.image.internal.DaxfsLayout.NAME_MAX;
import static dev.daxload.image.internal.DaxfsLayout.SB_BASE_OFFSET;
import static dev.daxload.image.internal.DaxfsLayout.SB_MAGIC;
import static dev.daxload.image.internal.DaxfsLayout.SB_VERSION;
import static dev.daxload.image.internal.DaxfsLayout.SUPER_MAGIC;
import static dev.daxload.image.internal.DaxfsLayout.S_IFDIR;
import static dev.daxload.image.internal.DaxfsLayout.S_IFMT;
import static dev.daxload.image.internal.DaxfsLayout.S_IFREG;
import static dev.daxload.image.internal.DaxfsLayout.VERSION;

import dev.daxload.image.DaxFormatException;
import dev.daxload.image.ImageProblem;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * A few files of an image file read by path, with positional reads: no mapping, and nothing of the
 * image checked but what these reads touch. Every offset and length is checked against the file before
 * it is used (superblocks, each inode on the way, each directory's entries, each file's data), and a
 * failed check is a {@link DaxFormatException} naming the field and what was expected.
 *
 * <p>For loads that need a handful of small files and none of the weights, such as ONNX Runtime's own
 * form from the image (a manifest, a key, a graph, a tokenizer: ORT maps the rest itself): in a fresh JVM
 * mapping the image and validating all of it costs tens of milliseconds this way does not. Whole-image
 * checks stay with {@code DaxImage.open}, which every load that reads weights still goes through.
 * Not thread-safe; one reader per load.
 */
public final class DaxFileReader implements AutoCloseable {
    /** Entries one directory may hold here: a model's directories hold a handful. */
    private static final long MAX_ENTRIES = 1 << 16;

    private final Path file;
    private final FileChannel channel;
    private final long fileSize;
    private final long base;
    private final long inodeTable;
    private final long inodeCount;
    private final long root;

    /** A file or directory of the image: its inode number, type and data. */
    public record Node(long ino, int mode, long size, long dataOffset) {
        public boolean isDirectory() {
            return (mode & S_IFMT) == S_IFDIR;
        }

        public boolean isRegularFile() {
            return (mode & S_IFMT) == S_IFREG;
        }
    }

    private DaxFileReader(Path file, FileChannel channel) throws IOException {
        this.file = file;
        this.channel = channel;
        this.fileSize = channel.size();
        ByteBuffer sb = read(0, 64, 0, "superblock");
        if (sb.getInt(SB_MAGIC) != SUPER_MAGIC) {
            throw problem(0, SB_MAGIC, "super.magic", String.format("superblock magic is 0x%08x, expected 0x%08x (\"dax5\"): not a DAXFS v5 image",
                    sb.getInt(SB_MAGIC), SUPER_MAGIC));
        }
        if (sb.getInt(SB_VERSION) != VERSION) {
            throw problem(0, SB_VERSION, "super.version", "superblock version is " + Integer.toUnsignedString(sb.getInt(SB_VERSION)) + ", expected " + VERSION);
        }
        base = sb.getLong(SB_BASE_OFFSET);
        ByteBuffer bsb = read(base, 64, 0, "base superblock (super.base_offset " + Long.toUnsignedString(base) + ")");
        if (bsb.getInt(BASE_MAGIC_OFF) != BASE_MAGIC) {
            throw problem(0, base + BASE_MAGIC_OFF, "base.magic", String.format("base superblock magic is 0x%08x, expected 0x%08x (\"dda5\")",
                    bsb.getInt(BASE_MAGIC_OFF), BASE_MAGIC));
        }
        if (bsb.getInt(BASE_VERSION) != VERSION) {
            throw problem(0, base + BASE_VERSION, "base.version", "base superblock version is " + Integer.toUnsignedString(bsb.getInt(BASE_VERSION))
                    + ", expected " + VERSION);
        }
        if ((bsb.getInt(BASE_FLAGS) & BASE_FLAG_EXTERNAL_DATA) != 0) {
            throw problem(0, base + BASE_FLAGS, "base.flags", "file data lives in an external backing file (split image); only self-contained images can be read");
        }
        inodeTable = base + bsb.getLong(BASE_INODE_OFFSET);
        inodeCount = Integer.toUnsignedLong(bsb.getInt(BASE_INODE_COUNT));
        root = Integer.toUnsignedLong(bsb.getInt(BASE_ROOT_INODE));
        if (bsb.getLong(BASE_INODE_OFFSET) < 0 || inodeTable < base || !within(inodeTable, inodeCount * INODE_SIZE)) {
            throw problem(0, base + BASE_INODE_OFFSET, "base.inode_table", "inode table at " + Long.toUnsignedString(inodeTable) + " with "
                    + inodeCount + " inodes of " + INODE_SIZE + " bytes runs past the end of the file (" + fileSize + " bytes)");
        }
        if (root < 1 || root > inodeCount) {
            throw problem(0, base + BASE_ROOT_INODE, "base.root_inode", "root_inode is " + root + ", expected 1.." + inodeCount);
        }
    }

    /**
     * Opens {@code file} and checks its superblocks.
     *
     * @throws DaxFormatException if the superblocks are not a self-contained DAXFS v5 image's
     */
    public static DaxFileReader open(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        try {
            return new DaxFileReader(file, ch);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** The image file, for messages. */
    public Path file() {
        return file;
    }

    /**
     * The file or directory at {@code path} ({@code a/b/c}, relative to the root; symbolic links are not
     * followed), or empty where a component is missing or not a directory.
     */
    public Optional<Node> lookup(String path) throws IOException {
        Node node = inode(root, "/");
        if (path.isEmpty() || path.equals("/")) {
            return Optional.of(node);
        }
        String at = "";
        for (String part : (path.startsWith("/") ? path.substring(1) : path).split("/", -1)) {
            if (part.isEmpty() || part.equals(".") || part.equals("..")) {
                throw new IllegalArgumentException("'" + path + "' is not a plain relative path");
            }
            if (!node.isDirectory()) {
                return Optional.empty();
            }
            at = at.isEmpty() ? part : at + "/" + part;
            Optional<Node> child = child(node, at, part.getBytes(StandardCharsets.UTF_8));
            if (child.isEmpty()) {
                return Optional.empty();
            }
            node = child.get();
        }
        return Optional.of(node);
    }

    /** The names in the directory at {@code path}, in the image's order. */
    public List<String> list(String path) throws IOException {
        Optional<Node> found = lookup(path);
        if (found.isEmpty()) {
            throw new java.nio.file.NoSuchFileException(file + ":/" + path);
        }
        Node dir = found.get();
        if (!dir.isDirectory()) {
            throw new java.nio.file.NotDirectoryException(file + ":/" + path);
        }
        List<String> names = new ArrayList<>();
        ByteBuffer entries = entries(dir, path);
        for (int k = 0; k < entries.capacity() / DIRENT_STRIDE; k++) {
            int len = nameLength(entries, k, dir, path);
            names.add(new String(entries.array(), k * DIRENT_STRIDE + DIRENT_NAME, len, StandardCharsets.UTF_8));
        }
        return names;
    }

    /**
     * The bytes of the regular file at {@code path}.
     *
     * @param maxBytes the most this caller takes: a larger file is refused, never read
     */
    public byte[] read(String path, long maxBytes) throws IOException {
        Node f = regularFile(path);
        if (f.size() > Math.min(maxBytes, Integer.MAX_VALUE - 8)) {
            throw new IOException(file + ":/" + path + ": " + f.size() + " bytes, more than the " + maxBytes + " this reader takes");
        }
        return read(base + f.dataOffset(), (int) f.size(), f.ino(), "data of '" + path + "'").array();
    }

    /**
     * Writes the regular file at {@code path} to the new file {@code out}, copied by the kernel from this image file
     * ({@code copy_file_range} where the file systems allow; {@link FileCopy}): nothing of it passes through the heap.
     */
    public void copy(String path, Path out) throws IOException {
        Node f = regularFile(path);
        long from = base + f.dataOffset();
        try (FileChannel to = FileChannel.open(out, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            long done = FileCopy.copy(channel, from, f.size(), to);
            if (done < f.size()) {
                throw problem(f.ino(), from + done, "read.range", "data of '" + path + "': the file ended at " + (from + done)
                        + " while copying it (did it shrink?)");
            }
        }
    }

    /** The absolute offset in the file of {@code node}'s data. */
    public long absoluteOffset(Node node) {
        return base + node.dataOffset();
    }

    private Node regularFile(String path) throws IOException {
        Optional<Node> found = lookup(path);
        if (found.isEmpty()) {
            throw new java.nio.file.NoSuchFileException(file + ":/" + path);
        }
        if (!found.get().isRegularFile()) {
            throw new IOException(file + ":/" + path + ": not a regular file (mode " + Integer.toOctalString(found.get().mode()) + ")");
        }
        return found.get();
    }

    private Optional<Node> child(Node dir, String path, byte[] name) throws IOException {
        ByteBuffer entries = entries(dir, path);
        byte[] raw = entries.array();
        for (int k = 0; k < entries.capacity() / DIRENT_STRIDE; k++) {
            int e = k * DIRENT_STRIDE;
            int len = nameLength(entries, k, dir, path);
            if (len == name.length && Arrays.equals(raw, e + DIRENT_NAME, e + DIRENT_NAME + len, name, 0, len)) {
                return Optional.of(inode(Integer.toUnsignedLong(entries.getInt(e + DIRENT_INO)), path));
            }
        }
        return Optional.empty();
    }

    private ByteBuffer entries(Node dir, String path) throws IOException {
        if (dir.size() < 0 || dir.size() % DIRENT_SIZE_UNIT != 0 || dir.size() / DIRENT_SIZE_UNIT > MAX_ENTRIES) {
            throw problem(dir.ino(), -1, "dir.size", "directory '" + path + "' has size " + dir.size() + ", expected a multiple of "
                    + DIRENT_SIZE_UNIT + " (at most " + MAX_ENTRIES + " entries)");
        }
        return read(base + dir.dataOffset(), (int) (dir.size() / DIRENT_SIZE_UNIT) * DIRENT_STRIDE, dir.ino(), "entries of directory '" + path + "'");
    }

    private int nameLength(ByteBuffer entries, int k, Node dir, String path) throws DaxFormatException {
        int len = Short.toUnsignedInt(entries.getShort(k * DIRENT_STRIDE + DIRENT_NAME_LEN));
        if (len < 1 || len > NAME_MAX) {
            throw problem(dir.ino(), base + dir.dataOffset() + (long) k * DIRENT_STRIDE + DIRENT_NAME_LEN, "dirent.name_len",
                    "entry " + k + " of directory '" + path + "' has a name of " + len + " bytes, expected 1.." + NAME_MAX);
        }
        return len;
    }

    private Node inode(long ino, String path) throws IOException {
        if (ino < 1 || ino > inodeCount) {
            throw problem(0, -1, "dirent.ino", "'" + path + "' names inode " + ino + ", expected 1.." + inodeCount);
        }
        ByteBuffer b = read(inodeTable + (ino - 1) * INODE_SIZE, INODE_SIZE, ino, "inode of '" + path + "'");
        long size = b.getLong(INODE_SIZE_FIELD);
        long data = b.getLong(INODE_DATA_OFFSET);
        if (size < 0 || data < 0 || !within(base + data, size)) {
            throw problem(ino, inodeTable + (ino - 1) * INODE_SIZE + INODE_DATA_OFFSET, "inode.data", "'" + path + "': data ["
                    + Long.toUnsignedString(data) + ", +" + Long.toUnsignedString(size) + ") past the base at " + base
                    + " runs past the end of the file (" + fileSize + " bytes)");
        }
        return new Node(ino, b.getInt(INODE_MODE), size, data);
    }

    private boolean within(long offset, long length) {
        return offset >= 0 && length >= 0 && offset <= fileSize && length <= fileSize - offset;
    }

    /** {@code length} bytes at {@code offset}, little-endian; {@code what} names them if they do not lie in the file. */
    private ByteBuffer read(long offset, int length, long ino, String what) throws IOException {
        if (!within(offset, length)) {
            throw problem(ino, offset, "read.range", what + ": [" + Long.toUnsignedString(offset) + ", +" + length
                    + ") runs past the end of the file (" + fileSize + " bytes): truncated image?");
        }
        ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            if (channel.read(b, offset + b.position()) < 0) {
                throw problem(ino, offset + b.position(), "read.range", what + ": the file ended at " + (offset + b.position())
                        + " while reading it (did it shrink?)");
            }
        }
        return b.flip();
    }

    private DaxFormatException problem(long ino, long offset, String rule, String detail) {
        return new DaxFormatException(file.toString(), new ImageProblem(ImageProblem.Severity.ERROR, ino, offset, rule, detail));
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
