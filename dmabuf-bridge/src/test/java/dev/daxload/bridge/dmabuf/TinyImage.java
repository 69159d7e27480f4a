package dev.daxload.bridge.dmabuf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * A smallest static DAXFS v5 image, written by hand from daxfs-format.md so that the bridge's
 * tests need no packager: a root directory holding one file. Laid out as
 * superblock | base superblock | inode table | root dirents | file data, each 4096 bytes.
 */
public final class TinyImage {
    public static final String FILE_NAME = "hello.txt";
    public static final String FILE_TEXT = "hello from a DAXFS image in a dma-buf\n";
    public static final int SIZE = 5 * 4096;

    private TinyImage() {}

    public static byte[] bytes() {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        long baseSize = 4 * 4096;
        // superblock
        b.putInt(0, 0x64617835).putInt(4, 5).putInt(8, 0).putInt(12, 4096)
                .putLong(16, 4096 + baseSize).putLong(24, 4096).putLong(32, baseSize)
                .putLong(64, 3); // next_inode_id = inode_count + 1
        // base superblock at 4096
        int base = 4096;
        b.putInt(base, 0x64646135).putInt(base + 4, 5).putInt(base + 8, 0).putInt(base + 12, 4096)
                .putLong(base + 16, baseSize).putLong(base + 24, 4096).putInt(base + 32, 2)
                .putInt(base + 36, 1).putLong(base + 40, 8192);
        // inodes at base + 4096
        int ino = base + 4096;
        b.putInt(ino, 1).putInt(ino + 4, 0040755).putLong(ino + 16, 271).putLong(ino + 24, 8192).putInt(ino + 32, 2);
        byte[] text = FILE_TEXT.getBytes(StandardCharsets.UTF_8);
        b.putInt(ino + 64, 2).putInt(ino + 68, 0100644).putLong(ino + 80, text.length).putLong(ino + 88, 12288).putInt(ino + 96, 1);
        // root directory entries at base + 8192 (stride 272)
        int de = base + 8192;
        byte[] name = FILE_NAME.getBytes(StandardCharsets.UTF_8);
        b.putInt(de, 2).putInt(de + 4, 0100644).putShort(de + 8, (short) name.length).put(de + 16, name);
        // file data at base + 12288
        b.put(base + 12288, text);
        return b.array();
    }
}
