package dev.daxload.packager.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SourceReadersTest {
    @TempDir
    Path dir;

    private final SourceReaders readers = SourceReaders.standard();

    @Test
    void picksByExtensionOrMagic() throws IOException {
        Path data = Fixtures.testdata();
        assertInstanceOf(SafetensorsReader.class, readers.find(data.resolve("edge-cases.safetensors")).orElseThrow());
        assertInstanceOf(GgufReader.class, readers.find(data.resolve("edge-cases.gguf")).orElseThrow());
        assertInstanceOf(NpyReader.class, readers.find(data.resolve("npy-bool.npy")).orElseThrow());
        assertInstanceOf(NpzReader.class, readers.find(data.resolve("silero-vad.npz")).orElseThrow());
        assertInstanceOf(ShardedSafetensorsReader.class, readers.find(data.resolve("sharded")).orElseThrow());
        assertInstanceOf(ShardedSafetensorsReader.class,
                readers.find(data.resolve("sharded/model.safetensors.index.json")).orElseThrow());

        // the same bytes without telling names: found by magic
        for (String name : new String[] {"edge-cases.safetensors", "edge-cases.gguf", "npy-bool.npy"}) {
            Path copy = Files.copy(data.resolve(name), dir.resolve("weights-" + name.hashCode()));
            assertEquals(readers.find(data.resolve(name)).orElseThrow().getClass(),
                    readers.find(copy).orElseThrow().getClass(), name);
            assertEquals(readers.read(data.resolve(name)).tensors().size(), readers.read(copy).tensors().size());
        }
    }

    @Test
    void rawDirectoryAndUnknownFiles() throws IOException {
        Files.write(dir.resolve("x.bin"), new byte[8]);
        Files.writeString(dir.resolve(RawTensorReader.SPEC),
                "{\"tensors\":[{\"name\":\"x\",\"file\":\"x.bin\",\"dtype\":\"I64\",\"shape\":[]}]}");
        assertEquals("raw", readers.read(dir).format());
        Path other = Files.writeString(dir.resolve("notes.txt"), "hello");
        SourceFormatException e = assertThrows(SourceFormatException.class, () -> readers.read(other));
        assertTrue(e.getMessage().contains("notes.txt") && e.getMessage().contains("no reader"), e.getMessage());
        assertThrows(SourceFormatException.class, () -> readers.read(dir.resolve("missing.gguf")));
    }

    @Test
    void extraReadersAreAskedFirst() throws IOException {
        SourceReader fake = new SourceReader() {
            @Override
            public String format() {
                return "fake";
            }

            @Override
            public boolean accepts(Path path) {
                return path.toString().endsWith(".txt");
            }

            @Override
            public SourceModel read(Path path) {
                return new SourceModel("fake", java.util.List.of(path), new com.google.gson.JsonObject(),
                        java.util.List.of(), java.util.Map.of());
            }
        };
        Path other = Files.writeString(dir.resolve("notes.txt"), "hello");
        assertEquals("fake", readers.with(fake).read(other).format());
    }
}
