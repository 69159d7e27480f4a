package dev.daxload.cli.modelpack;

import java.nio.charset.StandardCharsets;
import java.util.OptionalLong;

/**
 * Where the one file of a tar layer (model-spec's {@code .v1.tar}: modctl's default) starts and how long it is,
 * read from the layer's first bytes: ustar headers, with PAX and GNU long-name headers before it skipped.
 *
 * @param dataOffset where the file's bytes start in the layer
 * @param size the file's length
 */
record TarMember(long dataOffset, long size) {
    private static final int BLOCK = 512;

    /**
     * Finds the first regular file in {@code prefix}, the layer's first bytes.
     *
     * @return empty when {@code prefix} ends before the member's header does (ask for more bytes)
     * @throws IllegalArgumentException describing the offset and field when the headers are not a tar's
     */
    static java.util.Optional<TarMember> find(byte[] prefix, long layerSize) {
        long at = 0;
        while (true) {
            if (at + BLOCK > prefix.length) {
                if (at + BLOCK > layerSize) {
                    throw new IllegalArgumentException("the tar ends at byte " + layerSize + " before a file's header");
                }
                return java.util.Optional.empty();
            }
            int h = (int) at;
            boolean zero = true;
            for (int i = 0; i < BLOCK && zero; i++) {
                zero = prefix[h + i] == 0;
            }
            if (zero) {
                throw new IllegalArgumentException("the tar holds no file (end-of-archive block at byte " + at + ")");
            }
            final long header = at;
            checkSum(prefix, h, at);
            long size = number(prefix, h + 124, 12, at + 124).orElseThrow(() ->
                    new IllegalArgumentException("tar header at byte " + header + ": size field (offset 124) is not a number"));
            byte type = prefix[h + 156];
            long data = at + BLOCK;
            if (type == '0' || type == 0 || type == '7') {
                if (data + size > layerSize) {
                    throw new IllegalArgumentException("tar header at byte " + at + ": a file of " + size + " bytes from byte " + data
                            + " does not fit in the layer's " + layerSize);
                }
                return java.util.Optional.of(new TarMember(data, size));
            }
            if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
                // PAX attributes or a GNU long name: the member's own header follows their data
                long next = data + (size + BLOCK - 1) / BLOCK * BLOCK;
                if (next < data || next > layerSize) {
                    throw new IllegalArgumentException("tar header at byte " + at + ": extension of " + size + " bytes runs past the layer");
                }
                if (next > Integer.MAX_VALUE - BLOCK) {
                    throw new IllegalArgumentException("tar header at byte " + at + ": extension of " + size + " bytes (too large)");
                }
                at = next;
                continue;
            }
            throw new IllegalArgumentException("tar header at byte " + at + ": type '" + (char) type
                    + "' (offset 156); a model-spec tar layer holds one regular file");
        }
    }

    private static void checkSum(byte[] b, int h, long at) {
        long want = number(b, h + 148, 8, at + 148).orElseThrow(() ->
                new IllegalArgumentException("tar header at byte " + at + ": checksum field (offset 148) is not a number"));
        long sum = 0;
        for (int i = 0; i < BLOCK; i++) {
            sum += (i >= 148 && i < 156) ? ' ' : (b[h + i] & 0xff);
        }
        if (sum != want) {
            throw new IllegalArgumentException("tar header at byte " + at + ": checksum " + want + " (offset 148), but the header sums to " + sum);
        }
    }

    /** An octal field (NUL or space terminated), or GNU base-256 when the high bit is set. */
    private static OptionalLong number(byte[] b, int off, int len, long at) {
        if ((b[off] & 0x80) != 0) {
            long v = b[off] & 0x7f;
            for (int i = 1; i < len; i++) {
                if (v > (Long.MAX_VALUE >> 8)) {
                    return OptionalLong.empty();
                }
                v = (v << 8) | (b[off + i] & 0xff);
            }
            return OptionalLong.of(v);
        }
        String s = new String(b, off, len, StandardCharsets.US_ASCII).replace('\0', ' ').trim();
        if (s.isEmpty()) {
            return OptionalLong.empty();
        }
        try {
            return OptionalLong.of(Long.parseLong(s, 8));
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }
}
