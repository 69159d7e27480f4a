package dev.daxload.djl;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import dev.daxload.image.MapOptions;
import dev.daxload.manifest.DType;
import dev.daxload.model.ModelWeights;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.source.SourceTensor;
import dev.daxload.samples.NativeAnonymousMemory;
import dev.daxload.tensor.TensorView;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * daxload's native views library ({@link NativeViews}), the route every view takes on linux-x86_64:
 * BF16 (the dtype of most LLM weights, which DJL's own binding cannot make) in place, in a whole
 * model's worth of tensors made in one call, writable where the mapping is, read-only where asked.
 */
class NativeViewsTest {
    @TempDir Path tmp;
    NDManager manager;

    @BeforeEach
    void manager() {
        NativeViews.enable(true);
        manager = NDManager.newBaseManager("PyTorch");
    }

    @AfterEach
    void close() {
        manager.close();
    }

    @Test
    void theLibraryIsBuiltLoadedAndAgreesWithLibtorchsOwnCodes() {
        NativeViews lib = NativeViews.get().orElseThrow(() -> new AssertionError("the library is part of the loader jar on linux-x86_64"));
        // The same codes the FFM binding asks the same libtorch for: the library found the right functions.
        assertEquals(Aoti.get().dtypes(), lib.codes());
        assertTrue(lib.code(DType.BF16).isPresent());
        assertTrue(lib.code(DType.Q4_0).isEmpty(), "block-quantized types have no dtype");
    }

    /**
     * A tensor libtorch refuses in the middle of a call (a negative dimension here) fails the whole call with
     * an exception naming that tensor, not a crash; the call hands out no view, and the library goes on.
     */
    @Test
    void aTensorLibtorchRefusesFailsTheCallNamingItAndMakesNoView() {
        NativeViews lib = NativeViews.get().orElseThrow();
        int f32 = lib.code(DType.F32).orElseThrow();
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            long address = arena.allocate(64, 64).address();
            long before = lib.made();
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> lib.fromBlobs(
                    new long[] {address, address, address}, new long[][] {{4}, {2, -2}, {1}}, new int[] {f32, f32, f32},
                    new String[] {"first", "negative", "third"}));
            assertTrue(e.getMessage().contains("'negative'"), e.getMessage());
            assertEquals(before, lib.made(), "a refused call counts no view");
            // The library goes on working after a refusal.
            long[] ok = lib.fromBlobs(new long[] {address}, new long[][] {{4}}, new int[] {f32}, new String[] {"after"});
            assertEquals(address, lib.dataPtr(ok[0]));
            lib.delete(ok);
        }
    }

    /** A model shaped like an LLM's: two thirds BF16, the rest F32, ranks 0 to 4, viewed in one call. */
    @Test
    void aWholeModelOfBf16AndF32TensorsIsViewedInPlaceInOneCall() throws Exception {
        List<SourceTensor> tensors = new ArrayList<>();
        List<float[]> values = new ArrayList<>();
        long[][] shapes = {{}, {7}, {3, 5}, {2, 3, 4}, {2, 1, 3, 2}};
        for (int i = 0; i < 300; i++) {
            long[] shape = shapes[i % shapes.length];
            int n = (int) new Shape(shape).size();
            float[] v = new float[n];
            for (int k = 0; k < n; k++) {
                v[k] = (i % 17) - 8 + k * 0.5f; // exact in BF16: at most 8 significant bits
            }
            boolean bf16 = i % 3 != 0;
            tensors.add(TestImages.tensor("t" + i, bf16 ? "BF16" : "F32", shape, bf16 ? bf16(v) : PtTensorViewsTest.f32(v)));
            values.add(v);
        }
        Path img = TestImages.write(tmp, "llm-like.daxfs", tensors);
        try (ModelWeights w = ModelWeights.open(img, TestImages.MODEL)) {
            long before = NativeViews.get().orElseThrow().made();
            NDList all = PtTensorViews.viewAll(manager, w);
            assertEquals(before + 300, NativeViews.get().orElseThrow().made(), "every view came from the library");
            assertEquals(300, all.size());
            for (int i = 0; i < 300; i++) {
                NDArray a = all.get(i);
                TensorView t = w.tensor("t" + i);
                assertEquals("t" + i, a.getName());
                assertEquals(t.segment().address(), PtTensorViews.dataAddress(a), a.getName() + ": data_ptr is the tensor's address");
                assertEquals(new Shape(t.shape()), a.getShape(), a.getName());
                if (t.dtype() == DType.F32) {
                    assertEquals(DataType.FLOAT32, a.getDataType(), a.getName());
                }
                // DJL names no BF16 (its getDataType says unknown): the values say it, BF16 bits read as F16 would differ.
                assertArrayEquals(values.get(i), a.toType(DataType.FLOAT32, true).toFloatArray(), a.getName());
            }
        }
    }

    @Test
    void writesThroughTheMappingShowInBf16ViewsAndInPlaceOpsWriteTheMappingOnly() throws Exception {
        Path img = TestImages.write(tmp, "w.daxfs", List.of(TestImages.tensor("w", "BF16", new long[] {4}, bf16(1, 2, 3, 4))));
        byte[] file = Files.readAllBytes(img);
        try (ModelWeights w = ModelWeights.open(img, TestImages.MODEL)) {
            TensorView t = w.tensor("w");
            NDArray a = PtTensorViews.view(manager, t);
            // Through the mapping this process holds (copy-on-write: writable, private).
            t.segment().setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, 3, bf16Bits(7));
            assertArrayEquals(new float[] {1, 2, 3, 7}, a.toType(DataType.FLOAT32, true).toFloatArray());
            // And the other way: an in-place op on the view lands in the mapped bytes.
            a.addi(1);
            assertEquals(bf16Bits(3), t.segment().getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, 1));
            assertEquals(t.segment().address(), PtTensorViews.dataAddress(a), "still in place");
        }
        assertArrayEquals(file, Files.readAllBytes(img), "copy-on-write: the image file is unchanged");
    }

    @Test
    void readOnlyBf16ViewsComputeInPlaceAndRefuseWrites() throws Exception {
        Path img = TestImages.write(tmp, "ro.daxfs", List.of(TestImages.tensor("w", "BF16", new long[] {2, 2}, bf16(1, 2, 3, 4))));
        try (ModelWeights w = ModelWeights.open(img, TestImages.MODEL, MapOptions.readOnly())) {
            TensorView t = w.tensor("w");
            assertTrue(t.segment().isReadOnly());
            assertThrows(IllegalArgumentException.class, () -> PtTensorViews.view(manager, t), "writable views of read-only memory");
            long before = NativeViews.get().orElseThrow().made();
            PtNDArray a = PtTensorViews.view(manager, t, PtTensorViews.Writes.REFUSE_IN_PLACE);
            assertEquals(before + 1, NativeViews.get().orElseThrow().made());
            assertEquals(t.segment().address(), PtTensorViews.dataAddress(a));
            assertInstanceOf(GuardedPtNDArray.class, a);
            // A BF16 product in libtorch (DJL cannot make a BF16 array of its own: its native code aborts for BF16).
            assertArrayEquals(new float[] {5, 11, 11, 25}, a.matMul(a.transpose()).toType(DataType.FLOAT32, false).toFloatArray());
            var e = assertThrows(UnsupportedOperationException.class, () -> a.addi(1));
            assertTrue(e.getMessage().startsWith("tensor 'w' is a read-only view"), e.getMessage());
            assertThrows(UnsupportedOperationException.class, () -> a.reshape(4).muli(2), "derived views are guarded too");
        }
    }

    /**
     * 64 BF16 tensors of 8 MiB, each read whole (a sum): the views add next to no anonymous memory, the
     * pages are the image's page cache; copies into libtorch (the baseline) add about their size.
     */
    @Test
    void bf16ViewsAddNoAnonymousMemoryWhileCopiesAddTheirSize() throws Exception {
        int tensors = 64;
        int elements = 4 << 20; // 8 MiB of BF16 each
        long weightBytes = (long) tensors * elements * 2;
        Path blob = tmp.resolve("blob.bf16");
        try (FileChannel ch = FileChannel.open(blob, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(elements * 2).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < elements; i++) {
                b.putShort(bf16Bits(i % 8)); // 3.5 on average; libtorch sums BF16 in float, exactly here
            }
            b.flip();
            while (b.hasRemaining()) {
                ch.write(b);
            }
        }
        List<SourceTensor> list = new ArrayList<>();
        for (int i = 0; i < tensors; i++) {
            list.add(new SourceTensor("layer." + i + ".weight", "BF16", new long[] {2048, 2048}, FileContent.range(blob, 0, (long) elements * 2)));
        }
        Path img = TestImages.write(tmp, "512m-bf16.daxfs", list);
        Files.delete(blob);
        try (ModelWeights w = ModelWeights.open(img, TestImages.MODEL)) {
            try (NDManager warm = manager.newSubManager()) { // libtorch's pools, kernels and the JIT settle first
                for (NDArray v : PtTensorViews.viewAll(warm, w)) {
                    v.sum().toType(DataType.FLOAT32, false).getFloat();
                }
            }
            long anon0 = NativeAnonymousMemory.bytes();
            NDList views = PtTensorViews.viewAll(manager, w);
            for (NDArray v : views) {
                assertEquals(w.tensor(v.getName()).segment().address(), PtTensorViews.dataAddress(v));
                try (NDArray s = v.sum(); NDArray f = s.toType(DataType.FLOAT32, false)) {
                    assertEquals(3.5f * elements, f.getFloat(), 0f, v.getName());
                }
            }
            long anon1 = NativeAnonymousMemory.bytes();
            List<NDArray> copies = new ArrayList<>();
            for (NDArray v : views) {
                copies.add(v.duplicate());
            }
            long anon2 = NativeAnonymousMemory.bytes();
            System.out.printf("BF16 views of %d MiB (read whole): anonymous memory +%.1f MiB; copies +%.1f MiB%n",
                    weightBytes >> 20, (anon1 - anon0) / 1048576.0, (anon2 - anon1) / 1048576.0);
            assertTrue(anon1 - anon0 < weightBytes / 20, "views grew anonymous memory by " + (anon1 - anon0) + " bytes");
            assertTrue(anon2 - anon1 > weightBytes * 9 / 10, "the baseline copies should add ~" + weightBytes + " but added " + (anon2 - anon1));
            copies.forEach(NDArray::close);
            views.close();
        }
    }

    static short bf16Bits(float v) {
        return (short) (Float.floatToRawIntBits(v) >>> 16); // exact for values with at most 8 significant bits
    }

    static byte[] bf16(float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putShort(bf16Bits(v));
        }
        return b.array();
    }
}
