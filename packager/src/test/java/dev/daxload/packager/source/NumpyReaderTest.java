package dev.daxload.packager.source;

import static dev.daxload.packager.source.Fixtures.refused;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.daxload.packager.image.FileContent;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NumpyReaderTest {
    @TempDir
    Path dir;

    private final NpyReader npy = new NpyReader();
    private final NpzReader npz = new NpzReader();

    /** .npy bytes as numpy writes them: header padded with spaces and a newline to a multiple of 64. */
    static byte[] npyBytes(int major, String header, byte[] data) {
        byte[] h = header.getBytes(major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        int pre = major == 1 ? 10 : 12;
        int padded = (pre + h.length + 1 + 63) / 64 * 64 - pre;
        Le b = new Le().u8(0x93).ascii("NUMPY").u8(major).u8(0);
        if (major == 1) {
            b.u16(padded);
        } else {
            b.u32(padded);
        }
        b.bytes(h);
        for (int i = h.length; i < padded - 1; i++) {
            b.u8(' ');
        }
        return b.u8('\n').bytes(data).toBytes();
    }

    private Path npy(String name, String header, byte[] data) throws IOException {
        return Files.write(dir.resolve(name), npyBytes(1, header, data));
    }

    private static String header(String descr, boolean fortran, String shape) {
        return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape + ", }";
    }

    /** A [a, b, c] float64 array whose element (i, j, k) is i*10000 + j*100 + k, laid out as asked. */
    private static byte[] grid(int a, int b, int c, boolean fortran, ByteOrder order) {
        ByteBuffer buf = ByteBuffer.allocate(a * b * c * 8).order(order);
        for (int i = 0; i < a; i++) {
            for (int j = 0; j < b; j++) {
                for (int k = 0; k < c; k++) {
                    int at = fortran ? i + a * (j + b * k) : (i * b + j) * c + k;
                    buf.putDouble(at * 8, i * 10000 + j * 100 + k);
                }
            }
        }
        return buf.array();
    }

    @Test
    void bigEndianIsSwappedWhileCopied() throws IOException {
        ByteBuffer be = ByteBuffer.allocate(4 * 6).order(ByteOrder.BIG_ENDIAN);
        for (int i = 0; i < 6; i++) {
            be.putFloat(i * 4, i - 2.5f);
        }
        SourceTensor t = npy.read(npy("be.npy", header(">f4", false, "(2, 3)"), be.array())).tensors().getFirst();
        assertEquals("F32", t.dtype());
        assertArrayEquals(new long[] {2, 3}, t.shape());
        assertInstanceOf(ByteSwappingContent.class, t.content());
        ByteBuffer le = ByteBuffer.wrap(Fixtures.bytes(t.content())).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 6; i++) {
            assertEquals(i - 2.5f, le.getFloat(i * 4));
        }
    }

    @Test
    void complexNumbersSwapEachPart() throws IOException {
        ByteBuffer be = ByteBuffer.allocate(16).order(ByteOrder.BIG_ENDIAN).putFloat(1.5f).putFloat(-2f).putFloat(3f)
                .putFloat(4.25f);
        SourceTensor t = npy.read(npy("c.npy", header(">c8", false, "(2,)"), be.array())).tensors().getFirst();
        assertEquals("C64", t.dtype());
        ByteBuffer le = ByteBuffer.wrap(Fixtures.bytes(t.content())).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(-2f, le.getFloat(4));
        assertEquals(4.25f, le.getFloat(12));
    }

    @Test
    void fortranOrderIsRewrittenInCOrder() throws IOException {
        SourceTensor t = npy.read(npy("f.npy", header("<f8", true, "(3, 4, 5)"), grid(3, 4, 5, true, ByteOrder.LITTLE_ENDIAN)))
                .tensors().getFirst();
        assertArrayEquals(new long[] {3, 4, 5}, t.shape(), "the shape is kept, the layout changes");
        assertArrayEquals(grid(3, 4, 5, false, ByteOrder.LITTLE_ENDIAN), Fixtures.bytes(t.content()));
    }

    @Test
    void bigEndianFortranArrayLargerThanOneChunk() throws IOException {
        // 700 x 300 x 1 float64 = 1.6 MiB: the gather crosses its 1 MiB buffer
        SourceTensor t = npy.read(npy("fb.npy", header(">f8", true, "(700, 300, 1)"), grid(700, 300, 1, true, ByteOrder.BIG_ENDIAN)))
                .tensors().getFirst();
        assertArrayEquals(grid(700, 300, 1, false, ByteOrder.LITTLE_ENDIAN), Fixtures.bytes(t.content()));
    }

    @Test
    void trivialFortranLayoutsAreCopiedAsTheyAre() throws IOException {
        SourceTensor t = npy.read(npy("f1.npy", header("<f8", true, "(1, 5, 1)"), new byte[40])).tensors().getFirst();
        assertInstanceOf(FileContent.FileRange.class, t.content());
        SourceTensor s = npy.read(npy("s.npy", header("<i8", false, "()"), new byte[8])).tensors().getFirst();
        assertArrayEquals(new long[0], s.shape());
        SourceTensor z = npy.read(npy("z.npy", header("<f4", true, "(0, 7)"), new byte[0])).tensors().getFirst();
        assertEquals(0, Fixtures.bytes(z.content()).length);
    }

    @Test
    void headerLiteralsAreParsedNotPatternMatched() throws IOException {
        // Python 2 headers: long suffixes and unicode prefixes
        assertArrayEquals(new long[] {3, 1}, npy.read(npy("py2.npy",
                "{'descr': u'<i2', 'fortran_order': False, 'shape': (3L, 1L), }", new byte[6])).tensors().getFirst().shape());
        // a quote, brace and the word descr inside a string do not fool the parser
        refused(npy, npy("trick.npy", "{'descr': \"<f4', 'fortran_order': False, 'shape': (1,)}\", 'fortran_order': False, "
                + "'shape': (1,), }", new byte[4]), "unsupported dtype descr");
        refused(npy, npy("dup.npy", "{'descr': '|O', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
                new byte[4]), "duplicate key 'descr'");
        refused(npy, npy("extra.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", new byte[4]),
                "unexpected [x]");
        refused(npy, npy("missing.npy", "{'descr': '<f4', 'shape': (1,)}", new byte[4]), "missing [fortran_order]");
        refused(npy, npy("call.npy", "{'descr': __import__('os'), 'fortran_order': False, 'shape': (1,)}", new byte[4]),
                "not a valid Python literal");
        refused(npy, npy("paren.npy", header("<f4", false, "(5)"), new byte[20]), "not a tuple");
        refused(npy, npy("list.npy", header("<f4", false, "[5]"), new byte[20]), "not a tuple");
        refused(npy, npy("neg.npy", header("<f4", false, "(-1,)"), new byte[0]), "negative");
        refused(npy, npy("float.npy", header("<f4", false, "(1.5,)"), new byte[4]), "only integers");
        refused(npy, npy("ovf.npy", header("<f8", false, "(4611686018427387904, 16)"), new byte[8]), "overflows");
        refused(npy, npy("big.npy", header("<f8", false, "(99999999999999999999,)"), new byte[8]), "too large");
        refused(npy, npy("bool.npy", "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", new byte[4]),
                "fortran_order is not True or False");
        refused(npy, npy("unterminated.npy", "{'descr': '<f4", new byte[4]), "newline inside a string");
        refused(npy, npy("deep.npy", "{'descr': " + "(".repeat(100) + ")".repeat(100) + "}", new byte[4]), "nested deeper");
    }

    @Test
    void unsupportedDtypesAreRefusedClearly() throws IOException {
        refused(npy, npy("o.npy", header("|O", false, "(1,)"), new byte[8]), "pickle");
        refused(npy, npy("st.npy", "{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }",
                new byte[8]), "structured dtype with 2 fields");
        refused(npy, npy("v.npy", header("<V2", false, "(1,)"), new byte[2]), "bfloat16");
        refused(npy, npy("u.npy", header("<U8", false, "(1,)"), new byte[32]), "string dtype");
        refused(npy, npy("ld.npy", header("<f16", false, "(1,)"), new byte[16]), "no daxload equivalent");
        refused(npy, npy("dt.npy", header("<M8[ns]", false, "(1,)"), new byte[8]), "unsupported dtype descr");
    }

    @Test
    void lengthsAndVersionsAreChecked() throws IOException {
        refused(npy, npy("short.npy", header("<f4", false, "(3,)"), new byte[8]), "needs 12", "truncated");
        refused(npy, npy("long.npy", header("<f4", false, "(2,)"), new byte[12]), "trailing bytes");
        refused(npy, Files.write(dir.resolve("hl.npy"), new Le().u8(0x93).ascii("NUMPY").u8(1).u8(0).u16(60000)
                .ascii("{}").toBytes()), "runs past the end");
        refused(npy, Files.write(dir.resolve("hl2.npy"), new Le().u8(0x93).ascii("NUMPY").u8(2).u8(0).u32(1L << 31)
                .ascii("{}").toBytes()), "exceeds the 1048576-byte limit");
        refused(npy, Files.write(dir.resolve("v4.npy"), new Le().u8(0x93).ascii("NUMPY").u8(4).u8(0).u16(2)
                .ascii("{}").toBytes()), "version 4.0");
        refused(npy, Files.write(dir.resolve("magic.npy"), "NUMPY!!!!!!!!".getBytes(StandardCharsets.US_ASCII)), "magic");
        Path v3 = Files.write(dir.resolve("v3.npy"), npyBytes(3, header("<u2", false, "(2,)"), new byte[] {1, 2, 3, 4}));
        assertEquals("U16", npy.read(v3).tensors().getFirst().dtype());
        Path v2 = Files.write(dir.resolve("v2.npy"), npyBytes(2, header("|b1", false, "(4,)"), new byte[] {0, 1, 1, 0}));
        assertEquals("BOOL", npy.read(v2).tensors().getFirst().dtype());
    }

    // ---- npz ----

    private Path zip(String name, Map<String, byte[]> members, boolean stored) throws IOException {
        Path p = dir.resolve(name);
        try (OutputStream os = Files.newOutputStream(p); ZipOutputStream z = new ZipOutputStream(os)) {
            for (Map.Entry<String, byte[]> m : members.entrySet()) {
                ZipEntry e = new ZipEntry(m.getKey());
                if (stored) {
                    CRC32 crc = new CRC32();
                    crc.update(m.getValue());
                    e.setMethod(ZipEntry.STORED);
                    e.setSize(m.getValue().length);
                    e.setCompressedSize(m.getValue().length);
                    e.setCrc(crc.getValue());
                }
                z.putNextEntry(e);
                z.write(m.getValue());
                z.closeEntry();
            }
        }
        return p;
    }

    private Map<String, byte[]> members() {
        Map<String, byte[]> m = new LinkedHashMap<>();
        m.put("le.npy", npyBytes(1, header("<f8", false, "(3, 4, 5)"), grid(3, 4, 5, false, ByteOrder.LITTLE_ENDIAN)));
        m.put("fortran_be.npy", npyBytes(1, header(">f8", true, "(3, 4, 5)"), grid(3, 4, 5, true, ByteOrder.BIG_ENDIAN)));
        m.put("be.npy", npyBytes(1, header(">f8", false, "(3, 4, 5)"), grid(3, 4, 5, false, ByteOrder.BIG_ENDIAN)));
        m.put("fortran.npy", npyBytes(1, header("<f8", true, "(3, 4, 5)"), grid(3, 4, 5, true, ByteOrder.LITTLE_ENDIAN)));
        return m;
    }

    @Test
    void npzMembersStoredOrDeflatedComeOutCOrderedLittleEndian() throws IOException {
        byte[] want = grid(3, 4, 5, false, ByteOrder.LITTLE_ENDIAN);
        for (boolean stored : new boolean[] {true, false}) {
            SourceModel m = npz.read(zip(stored ? "s.npz" : "d.npz", members(), stored));
            assertEquals(4, m.tensors().size());
            for (SourceTensor t : m.tensors()) {
                assertEquals("F64", t.dtype());
                assertArrayEquals(new long[] {3, 4, 5}, t.shape());
                assertArrayEquals(want, Fixtures.bytes(t.content()), t.name() + (stored ? " stored" : " deflated"));
            }
            if (stored) {
                assertInstanceOf(FileContent.FileRange.class, m.tensors().getFirst().content());
            } else {
                assertInstanceOf(InflatingContent.class, m.tensors().getFirst().content());
            }
        }
    }

    @Test
    void damagedDeflateDataFailsTheWriteNotSilently() throws IOException {
        Map<String, byte[]> one = new LinkedHashMap<>();
        byte[] data = new byte[200_000];
        new java.util.Random(1).nextBytes(data);
        one.put("r.npy", npyBytes(1, header("|u1", false, "(200000,)"), data));
        Path p = zip("damaged.npz", one, false);
        SourceTensor t = npz.read(p).tensors().getFirst();
        assertArrayEquals(data, Fixtures.bytes(t.content()));
        InflatingContent c = (InflatingContent) t.content();
        byte[] file = Files.readAllBytes(p);
        int at = (int) (c.dataOffset() + c.compressedSize() - 1000);
        file[at] ^= 0x55;
        Files.write(p, file);
        IOException e = assertThrows(IOException.class, () -> Fixtures.bytes(npz.read(p).tensors().getFirst().content()));
        assertTrue(e.getMessage().contains("damaged.npz"), e.getMessage());
    }

    @Test
    void npzRefusals() throws IOException {
        Map<String, byte[]> m = new LinkedHashMap<>();
        m.put("readme.txt", "hello".getBytes(StandardCharsets.US_ASCII));
        refused(npz, zip("txt.npz", m, true), "'readme.txt' is not a .npy array");

        m.clear();
        m.put("a.npy", npyBytes(1, header("<f4", false, "(1,)"), new byte[4]));
        m.put("b.npy", npyBytes(1, header("<f4", false, "(1,)"), new byte[4]));
        Path dup = zip("dup.npz", m, true);
        Files.write(dup, replace(Files.readAllBytes(dup), "b.npy", "a.npy"));
        refused(npz, dup, "'a.npy' appears twice");

        m.clear();
        m.put("o.npy", npyBytes(1, header("|O", false, "(1,)"), new byte[8]));
        refused(npz, zip("obj.npz", m, false), "'o.npy'", "pickle");

        m.clear();
        m.put("z.npy", npyBytes(1, header("|u1", false, "(100000,)"), new byte[100000]));
        Path bomb = zip("bomb.npz", m, false);
        byte[] b = Files.readAllBytes(bomb);
        int cd = indexOf(b, new byte[] {0x50, 0x4b, 0x01, 0x02});
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(cd + 24, 0x7FFF_FFFF);
        Files.write(bomb, b);
        refused(npz, bomb, "more than deflate can produce");

        Path whole = zip("whole.npz", members(), true);
        byte[] all = Files.readAllBytes(whole);
        refused(npz, Files.write(dir.resolve("cut.npz"), Arrays.copyOf(all, all.length - 30)), "cut.npz");
        refused(npz, Files.write(dir.resolve("notzip.npz"), "not a zip at all".getBytes(StandardCharsets.US_ASCII)),
                "not a readable zip");
    }

    private static byte[] replace(byte[] b, String from, String to) {
        byte[] f = from.getBytes(StandardCharsets.US_ASCII);
        byte[] t = to.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i + f.length <= b.length; i++) {
            if (Arrays.equals(b, i, i + f.length, f, 0, f.length)) {
                System.arraycopy(t, 0, b, i, t.length);
            }
        }
        return b;
    }

    private static int indexOf(byte[] b, byte[] what) {
        for (int i = 0; i + what.length <= b.length; i++) {
            if (Arrays.equals(b, i, i + what.length, what, 0, what.length)) {
                return i;
            }
        }
        throw new AssertionError("not found");
    }
}
