package dev.daxload.bridge.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The few bytes that travel with the exported fd from a holder ({@code daxload gpu load --share})
 * to a client ({@code daxload gpu attach}): enough to map the memory without asking again.
 * 32 bytes, little-endian: magic {@code "DAXGPU01"}, allocation size, image size, device ordinal,
 * the holder's pid.
 *
 * @param allocationSize the exported allocation's size (what {@link DeviceImage#attach} maps)
 * @param imageSize the image's size within it
 * @param device the GPU ordinal the memory lives on
 * @param holderPid the holder process, for messages
 */
public record ShareHeader(long allocationSize, long imageSize, int device, int holderPid) {
    /** Bytes on the wire. */
    public static final int SIZE = 32;
    private static final byte[] MAGIC = "DAXGPU01".getBytes(StandardCharsets.US_ASCII);

    /** @return the 32 bytes */
    public byte[] encode() {
        return ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN).put(MAGIC).putLong(allocationSize)
                .putLong(imageSize).putInt(device).putInt(holderPid).array();
    }

    /**
     * @param b what arrived
     * @return the header
     * @throws IllegalArgumentException if it is not one (a different program on the socket)
     */
    public static ShareHeader decode(byte[] b) {
        if (b.length != SIZE) {
            throw new IllegalArgumentException("expected a " + SIZE + "-byte daxload GPU share header, got " + b.length + " bytes");
        }
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        byte[] magic = new byte[8];
        bb.get(magic);
        if (!java.util.Arrays.equals(magic, MAGIC)) {
            throw new IllegalArgumentException("not a daxload GPU share (magic " + new String(magic, StandardCharsets.US_ASCII) + ")");
        }
        ShareHeader h = new ShareHeader(bb.getLong(), bb.getLong(), bb.getInt(), bb.getInt());
        if (h.imageSize <= 0 || h.imageSize > h.allocationSize || h.device < 0) {
            throw new IllegalArgumentException("inconsistent GPU share header " + h);
        }
        return h;
    }
}
