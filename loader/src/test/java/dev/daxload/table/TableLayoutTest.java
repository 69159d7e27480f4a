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
