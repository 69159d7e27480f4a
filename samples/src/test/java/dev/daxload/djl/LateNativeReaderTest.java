package dev.daxload.djl;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.daxload.image.internal.Mmap;
import dev.daxload.model.ModelWeights;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13.10: closing an NDManager while another thread is inside a libtorch op on its arrays is
 * DJL's own hazard (it frees the tensor handles), with views or copies alike. What views add is the
 * memory under the tensor: libtorch's op keeps a plain copy's storage alive, but not the mapping. So
 * the last release of a view's image does not unmap the range: the file is let go at once and the
 * range becomes zero pages for {@link Mmap#RETIRE_GRACE_MS}, so such a late reader reads zeros rather
 * than dying of SIGSEGV. This test is that late reader, reading the address after everything closed.
 */
class LateNativeReaderTest {
    @TempDir Path tmp;

    @Test
    void theRangeOfAClosedViewStaysReadableAsZerosThenGoes() throws Exception {
        byte[] bytes = new byte[1 << 20];
        java.util.Arrays.fill(bytes, (byte) 5);
        Path image = TestImages.write(tmp, "late.daxfs", List.of(TestImages.tensor("w", "U8", new long[] {bytes.length}, bytes)));
        long address;
        try (ModelWeights weights = ModelWeights.open(image, TestImages.MODEL);
             NDManager manager = NDManager.newBaseManager("PyTorch")) {
            NDArray view = PtTensorViews.view(manager, weights.tensor("w"));
            address = PtTensorViews.dataAddress(view);
            assertEquals(5, view.toByteArray()[1000]);
        } // the manager closes, then the weights: the image is released
        String maps = Files.readString(Path.of("/proc/self/maps"));
        assertFalse(maps.contains(image.toString()), "the image file is no longer mapped");
        MemorySegment late = MemorySegment.ofAddress(address).reinterpret(bytes.length); // what libtorch holds
        assertEquals(0, late.get(ValueLayout.JAVA_BYTE, 1000), "a late read sees a zero page, not a fault");
        late.set(ValueLayout.JAVA_BYTE, 7, (byte) 1); // and a late in-place op writes private memory
        assertTrue(mapped(address), "the range is still reserved");
        long deadline = System.currentTimeMillis() + Mmap.RETIRE_GRACE_MS + 5_000;
        while (mapped(address)) {
            assertTrue(System.currentTimeMillis() < deadline, "the retired range was never unmapped");
            Thread.sleep(200);
        }
    }

    /** True if a line of /proc/self/maps covers {@code address}. */
    static boolean mapped(long address) throws java.io.IOException {
        return Files.readString(Path.of("/proc/self/maps")).lines().anyMatch(l -> {
            String[] range = l.substring(0, l.indexOf(' ')).split("-");
            return Long.compareUnsigned(Long.parseUnsignedLong(range[0], 16), address) <= 0
                    && Long.compareUnsigned(address, Long.parseUnsignedLong(range[1], 16)) < 0;
        });
    }
}
