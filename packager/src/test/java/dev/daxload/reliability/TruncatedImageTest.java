package dev.daxload.reliability;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.image.MapOptions;
import dev.daxload.model.ModelWeights;
import dev.daxload.tensor.TensorView;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13.2: the image file truncated by someone else while it is mapped. Before, the CRC32C
 * intrinsic read the lost pages and the JVM died of SIGBUS; now the check reports the tensor.
 */
class TruncatedImageTest {
    @TempDir Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"shared", "private"})
    void checksumsOfATruncatedImageAreAnErrorNotACrash(String sharing) throws Exception {
        Path image = ModelImages.write(tmp, "t.daxfs", 3, 1 << 20);
        MapOptions options = sharing.equals("shared") ? MapOptions.readOnly() : MapOptions.copyOnWrite();
        try (ModelWeights w = ModelWeights.open(image, ModelImages.MODEL, options)) {
            TensorView last = w.tensor("t2");
            assertDoesNotThrow(last::verify);
            try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
                ch.truncate(last.entry().offset() + 4096); // keep one page of t2: the fault is mid-tensor
            }
            var e = assertThrows(TensorView.ChecksumException.class, last::verify);
            assertTrue(e.getMessage().contains("'t2'") && e.getMessage().contains("truncated"), e.getMessage());
            List<String> bad = w.verify();
            assertEquals(1, bad.size(), bad.toString());
        }
        assertEquals(List.of(), ModelImages.mappingsOf(image));
    }
}
