package dev.daxload.table;

import static org.junit.jupiter.api.Assertions.*;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The hash is part of the format: these values must never change, or old images stop answering. */
class TableLayoutTest {

    @Test
    void fnv1a64MatchesThePublishedVectors() {
        assertEquals(0xcbf29ce484222325L, TableLayout.fnv1a64(new byte[0]));
        assertEquals(0xaf63dc4c8601ec8cL, TableLayout.fnv1a64("a".getBytes(StandardCharsets.US_ASCII)));
        assertEquals(0x85944171f73967e8L, TableLayout.fnv1a64("foobar".getBytes(StandardCharsets.US_ASCII)));
    }

    @Test
    void mixIsTheSplitmix64Finalizer() {
        // splitmix64 seeded with 0 returns mix(0x9e3779b97f4a7c15) first
        assertEquals(0xe220a8397b1dcdafL, TableLayout.mix(0x9e3779b97f4a7c15L));
        assertEquals(0L, TableLayout.mix(0L));
    }

    @Test
    void stringAndSegmentHashesAgree() {
        for (String k : new String[] {"x", "ключ", "🙂 with spaces", "a\nb,\"c\""}) {
            byte[] b = k.getBytes(StandardCharsets.UTF_8);
            byte[] padded = new byte[b.length + 7];
            System.arraycopy(b, 0, padded, 3, b.length);
            assertEquals(TableLayout.hashKey(k), TableLayout.hashKey(MemorySegment.ofArray(padded), 3, b.length), k);
        }
        assertEquals(TableLayout.mix(-5L), TableLayout.hashKey(-5L));
    }

    /**
     * The index hash of keys as images store it. The values were computed outside this code base
     * (a few lines of Python following the class Javadoc: FNV-1a 64 of the UTF-8 bytes, then the
     * splitmix64 finalizer), so a change to either half, to the byte order or to the widening of
     * integer keys fails here even if writer and reader change together.
     */
    @Test
    void hashKeyIsPinnedByLiteralVectors() {
        assertEquals(0xf52a15e9a9b5e89bL, TableLayout.hashKey(""));
        assertEquals(0x02c0bdbf481420f8L, TableLayout.hashKey("a"));
        assertEquals(0xba8e799dceb3bcb1L, TableLayout.hashKey("apple"));
        assertEquals(0x95f04555fa3bf374L, TableLayout.hashKey("ключ"));
        assertEquals(0x4e30ce8f3e500c7fL, TableLayout.hashKey("🙂 with spaces"));
        byte[] apple = "..apple..".getBytes(StandardCharsets.UTF_8);
        assertEquals(0xba8e799dceb3bcb1L, TableLayout.hashKey(MemorySegment.ofArray(apple), 2, 5));

        assertEquals(0x0000000000000000L, TableLayout.hashKey(0L));
        assertEquals(0x5692161d100b05e5L, TableLayout.hashKey(1L));
        assertEquals(0xb4d055fcf2cbbd7bL, TableLayout.hashKey(-1L));
        assertEquals(0x47f541c0f2a7a74eL, TableLayout.hashKey(-5L));
        assertEquals(0xa759ea27d4727622L, TableLayout.hashKey(42L));
        assertEquals(0x7b313d2783d96d8cL, TableLayout.hashKey(Integer.MAX_VALUE)); // an I32 key, widened
        assertEquals(0x25c26ea579cea98aL, TableLayout.hashKey(Long.MIN_VALUE));
    }

    @Test
    void capacityIsThePowerOfTwoAtLeastTwiceTheRows() {
        assertEquals(2, TableLayout.capacityFor(0));
        assertEquals(2, TableLayout.capacityFor(1));
        assertEquals(4, TableLayout.capacityFor(2));
        assertEquals(8, TableLayout.capacityFor(3));
        assertEquals(8, TableLayout.capacityFor(4));
        assertEquals(1L << 21, TableLayout.capacityFor(1_000_000));
        assertEquals(1L << 20, TableLayout.capacityFor(1 << 19));
        assertThrows(IllegalArgumentException.class, () -> TableLayout.capacityFor(-1));
        assertEquals(4, TableLayout.slotWidthFor(Integer.MAX_VALUE - 1L));
        assertEquals(8, TableLayout.slotWidthFor(Integer.MAX_VALUE));
    }
}
