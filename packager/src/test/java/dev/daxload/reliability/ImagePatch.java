package dev.daxload.reliability;

import dev.daxload.image.DaxImage;
import dev.daxload.image.DaxInode;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Edits a written image in place, as an attacker with a hex editor would. */
public final class ImagePatch {
    private ImagePatch() {}

    /** Absolute offset of a regular file's bytes, and its size. */
    public record Where(long offset, long size, long inodeAt) {}

    public static Where where(Path image, String path) throws IOException {
        try (DaxImage img = DaxImage.open(image)) {
            DaxInode n = img.lookup(path).orElseThrow(() -> new IOException("no " + path));
            long inodeAt = img.superblock().baseOffset() + img.superblock().inodeOffset() + (n.ino() - 1) * 64;
            return new Where(img.absoluteOffset(n.dataOffset()), n.size(), inodeAt);
        }
    }

    public static void write(Path image, long offset, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                offset += ch.write(b, offset);
            }
        }
    }

    public static void putU32(Path image, long offset, int v) throws IOException {
        write(image, offset, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array());
    }

    public static void putU64(Path image, long offset, long v) throws IOException {
        write(image, offset, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array());
    }

    public static long getU64(Path image, long offset) throws IOException {
        try (FileChannel ch = FileChannel.open(image)) {
            ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(b, offset);
            return b.getLong(0);
        }
    }

    /** Replaces a file's contents with {@code bytes}, which must fit its 4096-padded slot; sets its size. */
    public static void replaceFile(Path image, String path, byte[] bytes) throws IOException {
        Where w = where(image, path);
        long slot = (w.size() + 4095) / 4096 * 4096;
        if (bytes.length > slot || bytes.length == 0) {
            throw new IllegalArgumentException(bytes.length + " bytes do not fit the " + slot + "-byte slot of " + path);
        }
        byte[] padded = new byte[(int) Math.max(bytes.length, w.size())];
        System.arraycopy(bytes, 0, padded, 0, bytes.length);
        write(image, w.offset(), padded);
        putU64(image, w.inodeAt() + 16, bytes.length);
    }

    public static byte[] read(Path image, String path) throws IOException {
        try (DaxImage img = DaxImage.open(image)) {
            return img.content(path).toArray(ValueLayout.JAVA_BYTE);
        }
    }
}
