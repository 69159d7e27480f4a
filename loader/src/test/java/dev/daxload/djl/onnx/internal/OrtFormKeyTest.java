package dev.daxload.djl.onnx.internal;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a stored ORT form is keyed by, and why a key is refused. */
class OrtFormKeyTest {
    static final OrtFormKey KEY = new OrtFormKey("1.21.1", "amd64", List.of("avx2", "avx", "fma"), "ALL_OPT");

    @Test
    void roundTripsThroughJsonSortedAndWithAStableId() throws IOException {
        OrtFormKey back = OrtFormKey.parse(KEY.toJson(), "key.json");
        assertEquals(KEY, back);
        assertEquals(List.of("avx", "avx2", "fma"), back.isa());
        assertEquals(KEY.id(), new OrtFormKey("1.21.1", "amd64", List.of("fma", "avx2", "avx"), "ALL_OPT").id());
        assertEquals(16, KEY.id().length());
        assertTrue(KEY.mismatch(back).isEmpty());
    }

    @Test
    void namesWhyAKeyDoesNotMatch() {
        assertTrue(KEY.mismatch(new OrtFormKey("1.22.0", "amd64", KEY.isa(), "ALL_OPT")).orElseThrow().contains("1.22.0"));
        assertTrue(KEY.mismatch(new OrtFormKey("1.21.1", "aarch64", KEY.isa(), "ALL_OPT")).orElseThrow().contains("aarch64"));
        assertTrue(KEY.mismatch(new OrtFormKey("1.21.1", "amd64", KEY.isa(), "BASIC_OPT")).orElseThrow().contains("BASIC_OPT"));
        String isa = KEY.mismatch(new OrtFormKey("1.21.1", "amd64", List.of("avx", "fma", "avx512f"), "ALL_OPT")).orElseThrow();
        assertTrue(isa.contains("other CPU features") && isa.contains("[avx512f]") && isa.contains("[avx2]"), isa);
    }

    @Test
    void refusesKeysItCannotRead() {
        IOException format = assertThrows(IOException.class,
                () -> OrtFormKey.parse("{\"format\":\"x/1\"}".getBytes(StandardCharsets.UTF_8), "img:/m/ort/k/key.json"));
        assertTrue(format.getMessage().contains("img:/m/ort/k/key.json") && format.getMessage().contains("format"), format.getMessage());
        IOException field = assertThrows(IOException.class, () -> OrtFormKey.parse(
                ("{\"format\":\"" + OrtFormKey.FORMAT + "\",\"arch\":\"amd64\",\"isa\":[],\"optimization\":\"ALL_OPT\"}").getBytes(StandardCharsets.UTF_8), "k"));
        assertTrue(field.getMessage().contains("'ort'"), field.getMessage());
        assertThrows(IOException.class, () -> OrtFormKey.parse("[1,".getBytes(StandardCharsets.UTF_8), "k"));
    }

    @Test
    void takesOnlyTheFeaturesKernelsDispatchOn(@TempDir Path tmp) throws IOException {
        Path x86 = Files.writeString(tmp.resolve("x86"), "processor\t: 0\nflags\t\t: fpu vme sse4_2 avx avx2 fma avx512f avx512_vnni hypervisor\n"
                + "processor\t: 1\nflags\t\t: fpu\n");
        assertEquals(List.of("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni"), OrtFormKey.cpuFeatures(x86));
        Path arm = Files.writeString(tmp.resolve("arm"), "processor\t: 0\nFeatures\t: fp asimd asimddp i8mm bf16 sve cpuid\n");
        assertEquals(List.of("asimd", "asimddp", "i8mm", "bf16", "sve"), OrtFormKey.cpuFeatures(arm));
        IOException none = assertThrows(IOException.class, () -> OrtFormKey.cpuFeatures(Files.writeString(tmp.resolve("none"), "model\t: x\n")));
        assertTrue(none.getMessage().contains("no 'flags'"), none.getMessage());
    }
}
