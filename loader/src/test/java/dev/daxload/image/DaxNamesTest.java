package dev.daxload.image;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class DaxNamesTest {
    static byte[] hex(String h) {
        return HexFormat.of().parseHex(h);
    }

    @Test
    void everyByteStringComesBackExactlyAndNoTwoShareAString() {
        Random random = new Random(12);
        Map<String, byte[]> seen = new HashMap<>();
        for (int i = 0; i < 200_000; i++) {
            byte[] name = new byte[1 + random.nextInt(12)];
            random.nextBytes(name);
            if (i % 3 == 0) {
                // mostly valid UTF-8 with a stray byte: the common case of Latin-1 files
                byte[] utf8 = ("é€😀" + i).getBytes(StandardCharsets.UTF_8);
                name = java.util.Arrays.copyOf(utf8, utf8.length + 1);
                name[utf8.length] = (byte) (0x80 + random.nextInt(0x80));
            }
            String s = DaxNames.decode(name);
            assertArrayEquals(name, DaxNames.encode(s), HexFormat.of().formatHex(name));
            byte[] before = seen.putIfAbsent(s, name);
            if (before != null) {
                assertArrayEquals(before, name, "two names decode to one string");
            }
        }
    }

    @Test
    void validUtf8IsTheStringItSpellsAndOtherBytesAreFlagged() {
        assertEquals("café", DaxNames.decode("café".getBytes(StandardCharsets.UTF_8)));
        assertTrue(DaxNames.utf8("café".getBytes(StandardCharsets.UTF_8)).isPresent());
        byte[] bad = hex("626164fffe6e616d65");
        assertTrue(DaxNames.utf8(bad).isEmpty());
        assertFalse(DaxNames.isUtf8(bad));
        assertEquals("bad\uDCFF\uDCFEname", DaxNames.decode(bad));
        // An encoded surrogate is not UTF-8 (Java's decoder agrees), so it cannot collide with an escape.
        assertEquals("\uDCED\uDCB3\uDCBF", DaxNames.decode(hex("edb3bf")));
        assertArrayEquals(hex("edb3bf"), DaxNames.encode("\uDCED\uDCB3\uDCBF"));
    }

    @Test
    void escapeShowsNamesAsLsDashBDoes() {
        assertEquals("bad\\377\\376name", DaxNames.escape(hex("626164fffe6e616d65")));
        assertEquals("a\\\\b", DaxNames.escape("a\\b".getBytes(StandardCharsets.US_ASCII)));
        assertEquals("tab\\011nl\\012", DaxNames.escape("tab\tnl\n".getBytes(StandardCharsets.US_ASCII)));
        assertEquals("café 😀", DaxNames.escape("café 😀".getBytes(StandardCharsets.UTF_8)));
        assertEquals("plain", DaxNames.escape("plain".getBytes(StandardCharsets.US_ASCII)));
    }

    @Test
    void aLoneSurrogateThatIsNoEscapedByteIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DaxNames.encode("x\uD800y"));
        assertTrue(e.getMessage().contains("U+D800"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> DaxNames.encode("x\uDC10"));
    }
}
