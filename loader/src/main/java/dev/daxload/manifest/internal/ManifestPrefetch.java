package dev.daxload.manifest.internal;

import dev.daxload.manifest.ModelCatalog;
import dev.daxload.manifest.ModelManifest;

import static dev.daxload.image.internal.DaxfsLayout.BASE_INODE_COUNT;
import static dev.daxload.image.internal.DaxfsLayout.BASE_INODE_OFFSET;
import static dev.daxload.image.internal.DaxfsLayout.BASE_ROOT_INODE;
import static dev.daxload.image.internal.DaxfsLayout.DIRENT_INO;
import static dev.daxload.image.internal.DaxfsLayout.DIRENT_NAME;
import static dev.daxload.image.internal.DaxfsLayout.DIRENT_NAME_LEN;
import static dev.daxload.image.internal.DaxfsLayout.DIRENT_SIZE_UNIT;
import static dev.daxload.image.internal.DaxfsLayout.DIRENT_STRIDE;
import static dev.daxload.image.internal.DaxfsLayout.INODE_DATA_OFFSET;
import static dev.daxload.image.internal.DaxfsLayout.INODE_MODE;
import static dev.daxload.image.internal.DaxfsLayout.INODE_SIZE;
import static dev.daxload.image.internal.DaxfsLayout.INODE_SIZE_FIELD;
import static dev.daxload.image.internal.DaxfsLayout.SB_BASE_OFFSET;
import static dev.daxload.image.internal.DaxfsLayout.S_IFDIR;
import static dev.daxload.image.internal.DaxfsLayout.S_IFMT;
import static dev.daxload.image.internal.DaxfsLayout.S_IFREG;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;

/**
 * A model's manifest found and parsed on a thread of its own while the image is mapped and validated,
 * so that in a fresh JVM the two costs (each ~15 ms for 1,000 tensors, interpreted) overlap.
 *
 * <p>It is speculation, never trusted: the file is read with plain positional reads, unvalidated, and any
 * surprise (a bad offset, a missing name, a manifest that does not parse) ends it with nothing. Its result
 * is used only for the exact bytes that the validated image's own manifest file holds
 * ({@link ModelCatalog#load(dev.daxload.image.DaxImage, String, ManifestPrefetch)} compares them), and
 * the checks of the manifest against the image run as always.
 */
public final class ManifestPrefetch {
    /** Directory entries scanned at most per directory: a model directory holds a handful at the root. */
    private static final int MAX_ENTRIES = 1 << 16;

    private record Parsed(byte[] bytes, ModelManifest manifest) {}

    private final CompletableFuture<Parsed> result = new CompletableFuture<>();

    private ManifestPrefetch() {}

    /**
     * Starts reading {@code model}'s manifest from the image file on a daemon thread; returns at once.
     * Only for regular files: devices and mounts are left to the ordinary path.
     */
    public static ManifestPrefetch start(Path imageFile, String model) {
        ManifestPrefetch p = new ManifestPrefetch();
        if (!Files.isRegularFile(imageFile)) {
            p.result.complete(null);
            return p;
        }
        Thread.ofPlatform().daemon().name("daxload-manifest-prefetch").start(() -> {
            Parsed parsed = null;
            try {
                byte[] bytes = read(imageFile, model);
                if (bytes != null) {
                    parsed = new Parsed(bytes, ModelManifest.parse(bytes, imageFile + ":/" + model + "/" + ModelManifest.FILE_NAME));
                }
            } catch (IOException | RuntimeException e) {
                parsed = null; // the ordinary path reads it again and reports what is wrong
            } finally {
                p.result.complete(parsed);
            }
        });
        return p;
    }

    /**
     * The manifest parsed from {@code bytes}, if the prefetch read exactly these bytes and parsed them;
     * waits for it to end. Null otherwise: the caller parses them itself.
     */
    public ModelManifest forBytes(byte[] bytes) {
        Parsed p = result.join();
        return p != null && Arrays.equals(p.bytes(), bytes) ? p.manifest() : null;
    }

    /**
     * The bytes of {@code /<model>/manifest.json} as the image's tree says, read without validating
     * anything but the bounds of each read; null where anything is off.
     */
    static byte[] read(Path imageFile, String model) throws IOException {
        try (FileChannel ch = FileChannel.open(imageFile, StandardOpenOption.READ)) {
            long fileSize = ch.size();
            ByteBuffer sb = read(ch, fileSize, 0, 64);
            if (sb == null) {
                return null;
            }
            long base = sb.getLong(SB_BASE_OFFSET);
            ByteBuffer bsb = read(ch, fileSize, base, 64);
            if (bsb == null) {
                return null;
            }
            long inodeTable = base + bsb.getLong(BASE_INODE_OFFSET);
            long inodeCount = Integer.toUnsignedLong(bsb.getInt(BASE_INODE_COUNT));
            long root = Integer.toUnsignedLong(bsb.getInt(BASE_ROOT_INODE));
            long dir = child(ch, fileSize, base, inodeTable, inodeCount, root, model.getBytes(StandardCharsets.UTF_8), S_IFDIR);
            if (dir < 0) {
                return null;
            }
            long file = child(ch, fileSize, base, inodeTable, inodeCount, dir, ModelManifest.FILE_NAME.getBytes(StandardCharsets.US_ASCII), S_IFREG);
            if (file < 0) {
                return null;
            }
            ByteBuffer inode = inode(ch, fileSize, inodeTable, inodeCount, file);
            if (inode == null) {
                return null;
            }
            long size = inode.getLong(INODE_SIZE_FIELD);
            if (size < 0 || size > ModelManifest.MAX_BYTES || size > Runtime.getRuntime().maxMemory() / 4 / ModelManifest.HEAP_PER_BYTE) {
                return null;
            }
            ByteBuffer data = read(ch, fileSize, base + inode.getLong(INODE_DATA_OFFSET), (int) size);
            return data == null ? null : data.array();
        }
    }

    /** The inode number of the entry named {@code name} in directory {@code dirIno}, if of type {@code type}; else -1. */
    private static long child(FileChannel ch, long fileSize, long base, long inodeTable, long inodeCount, long dirIno, byte[] name, int type)
            throws IOException {
        ByteBuffer dir = inode(ch, fileSize, inodeTable, inodeCount, dirIno);
        if (dir == null || (dir.getInt(INODE_MODE) & S_IFMT) != S_IFDIR) {
            return -1;
        }
        long count = Long.divideUnsigned(dir.getLong(INODE_SIZE_FIELD), DIRENT_SIZE_UNIT);
        if (count > MAX_ENTRIES) {
            return -1;
        }
        ByteBuffer entries = read(ch, fileSize, base + dir.getLong(INODE_DATA_OFFSET), (int) count * DIRENT_STRIDE);
        if (entries == null) {
            return -1;
        }
        byte[] raw = entries.array();
        for (int k = 0; k < count; k++) {
            int e = k * DIRENT_STRIDE;
            int len = Short.toUnsignedInt(entries.getShort(e + DIRENT_NAME_LEN));
            if (len == name.length && Arrays.equals(raw, e + DIRENT_NAME, e + DIRENT_NAME + len, name, 0, len)) {
                long ino = Integer.toUnsignedLong(entries.getInt(e + DIRENT_INO));
                ByteBuffer child = inode(ch, fileSize, inodeTable, inodeCount, ino);
                return child != null && (child.getInt(INODE_MODE) & S_IFMT) == type ? ino : -1;
            }
        }
        return -1;
    }

    private static ByteBuffer inode(FileChannel ch, long fileSize, long inodeTable, long inodeCount, long ino) throws IOException {
        if (ino < 1 || ino > inodeCount) {
            return null;
        }
        return read(ch, fileSize, inodeTable + (ino - 1) * INODE_SIZE, INODE_SIZE);
    }

    /** {@code length} bytes at {@code offset}, little-endian, or null if they do not lie in the file. */
    private static ByteBuffer read(FileChannel ch, long fileSize, long offset, int length) throws IOException {
        if (offset < 0 || length < 0 || offset > fileSize || length > fileSize - offset) {
            return null;
        }
        ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            if (ch.read(b, offset + b.position()) < 0) {
                return null;
            }
        }
        return b.flip();
    }
}
