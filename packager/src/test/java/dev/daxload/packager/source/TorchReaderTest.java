package dev.daxload.packager.source;

import static org.junit.jupiter.api.Assertions.*;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * PyTorch state dicts written by torch.save itself (torch/make_torch_fixtures.py), read without Python:
 * every tensor's dtype, shape and bytes as torch.load gives them; refusals named; hostile pickles
 * refused before anything in them could run.
 */
class TorchReaderTest {
    static final Path TORCH = Fixtures.OWN.resolve("torch");
    final TorchReader reader = new TorchReader();
    @TempDir Path tmp;

    @TestFactory
    List<DynamicTest> everyTorchFixture() throws IOException {
        JsonObject files = JsonParser.parseString(Files.readString(TORCH.resolve("expected.json"))).getAsJsonObject()
                .getAsJsonObject("files");
        List<DynamicTest> tests = new ArrayList<>();
        for (Map.Entry<String, JsonElement> f : files.entrySet()) {
            Path path = TORCH.resolve(f.getKey());
            JsonObject e = f.getValue().getAsJsonObject();
            tests.add(DynamicTest.dynamicTest(f.getKey(), () -> {
                assertTrue(reader.accepts(path), "the reader takes " + path.getFileName());
                assertSame(TorchReader.class, SourceReaders.standard().find(path).orElseThrow().getClass());
                if (e.has("expect")) {
                    Fixtures.refused(reader, path);
                    return;
                }
                SourceModel m = reader.read(path);
                assertEquals("pytorch", m.format());
                var want = e.getAsJsonArray("tensors");
                assertEquals(want.size(), m.tensors().size());
                for (int i = 0; i < want.size(); i++) {
                    JsonObject w = want.get(i).getAsJsonObject();
                    SourceTensor t = m.tensors().get(i);
                    assertEquals(w.get("name").getAsString(), t.name(), "source order");
                    assertEquals(w.get("dtype").getAsString(), t.dtype(), t.name());
                    assertArrayEquals(w.getAsJsonArray("shape").asList().stream().mapToLong(JsonElement::getAsLong).toArray(),
                            t.shape(), t.name());
                    assertEquals(w.get("nbytes").getAsLong(), t.content().size(), t.name());
                    assertEquals(w.get("sha256_image").getAsString(), Fixtures.sha256(Fixtures.bytes(t.content())), t.name() + " bytes");
                }
            }));
        }
        return tests;
    }

    @Test
    void refusalsSayWhy() {
        Fixtures.refused(reader, TORCH.resolve("reject-strided.pt"), "tensor 'w'", "neither C nor Fortran order", ".contiguous()");
        Fixtures.refused(reader, TORCH.resolve("reject-legacy.pt"), "legacy format");
        Fixtures.refused(reader, TORCH.resolve("reject-checkpoint.pt"), "entry 'model' is a dict, not a tensor");
        Fixtures.refused(reader, TORCH.resolve("reject-torchscript.pt"), "TorchScript");
    }

    /** A torch.save-shaped archive around {@code pickle}, with {@code data/0} of {@code storage} bytes. */
    Path archive(String name, byte[] pickle, int storage) throws IOException {
        Path p = tmp.resolve(name);
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(p))) {
            stored(z, "archive/data.pkl", pickle);
            stored(z, "archive/data/0", new byte[storage]);
        }
        return p;
    }

    static void stored(ZipOutputStream z, String name, byte[] b) throws IOException {
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED);
        e.setSize(b.length);
        CRC32 crc = new CRC32();
        crc.update(b);
        e.setCrc(crc.getValue());
        z.putNextEntry(e);
        z.write(b);
        z.closeEntry();
    }

    static byte[] bytes(Object... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Object o : parts) {
            if (o instanceof String s) {
                out.writeBytes(s.getBytes(StandardCharsets.ISO_8859_1));
            } else {
                out.write((Integer) o);
            }
        }
        return out.toByteArray();
    }

    /** {'w': _rebuild_tensor_v2(('storage', torch.FloatStorage, '0', 'cpu', 4), OFFSET, (N,), (1,), False, OrderedDict())} */
    static byte[] oneTensor(int offset, int n) {
        return bytes(0x80, 2, "}", "X", 1, 0, 0, 0, "w",
                "ctorch._utils\n_rebuild_tensor_v2\n", "(",
                "(", "X", 7, 0, 0, 0, "storage", "ctorch\nFloatStorage\n", "X", 1, 0, 0, 0, "0", "X", 3, 0, 0, 0, "cpu", "K", 4, "t",
                "Q", "K", offset, "K", n, 0x85, "K", 1, 0x85, 0x89, "ccollections\nOrderedDict\n", ")", "R", "t", "R", "s", ".");
    }

    @Test
    void aHandWrittenPickleReadsAndItsOffsetIsHonoured() throws IOException {
        SourceModel m = reader.read(archive("ok.pt", oneTensor(1, 3), 16));
        SourceTensor t = m.tensors().getFirst();
        assertEquals("F32", t.dtype());
        assertArrayEquals(new long[] {3}, t.shape());
        assertEquals(12, t.content().size());
        assertTrue(t.content().describe().contains("ok.pt"), t.content().describe());
    }

    /**
     * torch 2's form for the dtypes it added (float8, uint16-64): an untyped storage of bytes, the dtype
     * pickled by name as _rebuild_tensor_v3's seventh argument, the offset in elements of that dtype.
     * Hand-built after torch's _tensor.py (torch 1.13 here cannot write it).
     */
    static byte[] v3Tensor(String dtype, int offset, int n, int storageBytes) {
        return bytes(0x80, 2, "}", "X", 1, 0, 0, 0, "w",
                "ctorch._utils\n_rebuild_tensor_v3\n", "(",
                "(", "X", 7, 0, 0, 0, "storage", "ctorch\nUntypedStorage\n", "X", 1, 0, 0, 0, "0", "X", 6, 0, 0, 0, "cuda:0",
                "K", storageBytes, "t", "Q", "K", offset, "K", n, 0x85, "K", 1, 0x85, 0x89, "ccollections\nOrderedDict\n", ")", "R",
                "ctorch\n" + dtype + "\n", "t", "R", "s", ".");
    }

    @Test
    void torch2NewDtypesThroughRebuildTensorV3() throws IOException {
        SourceModel m = reader.read(archive("v3.pt", v3Tensor("uint16", 1, 3, 8), 8));
        SourceTensor t = m.tensors().getFirst();
        assertEquals("U16", t.dtype());
        assertEquals(6, t.content().size());
        SourceTensor f8 = reader.read(archive("f8.pt", v3Tensor("float8_e4m3fn", 0, 8, 8), 8)).tensors().getFirst();
        assertEquals("F8_E4M3", f8.dtype());
        Fixtures.refused(reader, archive("v3past.pt", v3Tensor("uint32", 1, 2, 8), 8), "run past its storage of 2");
        Fixtures.refused(reader, archive("v3bits.pt", v3Tensor("bits8", 0, 8, 8), 8), "torch.bits8");
    }

    @Test
    void aTensorPastItsStorageIsRefused() throws IOException {
        Fixtures.refused(reader, archive("past.pt", oneTensor(2, 3), 16), "tensor 'w'", "run past its storage of 4");
    }

    @Test
    void aStorageWhoseSizeDisagreesIsRefused() throws IOException {
        Fixtures.refused(reader, archive("short.pt", oneTensor(0, 3), 12), "holds 12 bytes", "4 elements of 4 bytes");
    }

    @Test
    void aGlobalOutsideTheAllowListIsNeverRun() throws IOException {
        byte[] evil = bytes(0x80, 2, "cos\nsystem\n", "X", 5, 0, 0, 0, "touch", 0x85, "R", ".");
        Fixtures.refused(reader, archive("evil.pt", evil, 0), "data.pkl at byte 2", "os.system", "refusing to run it");
        byte[] builtins = bytes(0x80, 2, "cbuiltins\neval\n", ".");
        Fixtures.refused(reader, archive("eval.pt", builtins, 0), "builtins.eval");
    }

    @Test
    void truncatedAndUnknownOpcodesAreRefusedWithTheirOffset() throws IOException {
        byte[] full = oneTensor(0, 4);
        for (int cut : new int[] {1, 5, 20, full.length - 1}) {
            byte[] part = java.util.Arrays.copyOf(full, cut);
            SourceFormatException e = assertThrows(SourceFormatException.class, () -> reader.read(archive("cut" + cut + ".pt", part, 16)));
            assertTrue(e.getMessage().contains("data.pkl at byte"), e.getMessage());
        }
        Fixtures.refused(reader, archive("op.pt", bytes(0x80, 2, "i", "."), 0), "data.pkl at byte 2", "opcode 0x69");
        Fixtures.refused(reader, archive("notdict.pt", bytes(0x80, 2, "K", 7, "."), 0), "holds a int, not a state dict");
    }

    @Test
    void aBinFileThatIsNeitherZipNorPickleIsNotTaken() throws IOException {
        Path bin = Files.write(tmp.resolve("vocab.bin"), new byte[] {1, 2, 3, 4, 5});
        assertFalse(reader.accepts(bin));
        Path pt = Files.write(tmp.resolve("junk.pt"), new byte[] {1, 2, 3, 4, 5});
        Fixtures.refused(reader, pt, "no zip header");
    }
}
