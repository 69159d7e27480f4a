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
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PyTorch views over a real image, with the real engine (libtorch from Maven Central, offline). */
class PtTensorViewsTest {
    /** Exactly representable in every float type down to FP8 E4M3 / E5M2 (one mantissa bit at most beyond 3.5). */
    static final double[] FLOATS = {0, 1, -2, 3.5, 96, -0.25};
    static final double[] SIGNED = {0, 1, -2, 3, 96, -7};
    static final double[] UNSIGNED = {0, 1, 2, 3, 96, 250};
    static final double[] BOOLS = {0, 1, 1, 0, 1, 0};
    static final long[] SHAPE = {2, 3};

    @TempDir Path tmp;
    NDManager manager;

    @BeforeEach
    void manager() {
        manager = NDManager.newBaseManager("PyTorch");
    }

    @AfterEach
    void close() {
        manager.close();
    }

    @Test
    void everyPyTorchDtypeIsAZeroCopyViewWithTheImagesValues() throws Exception {
        Set<DType> plain = EnumSet.noneOf(DType.class);
        for (DType d : DType.values()) {
            if (!d.isQuantized()) {
                plain.add(d);
            }
        }
        // safetensors types libtorch 2.7's C API has no dtype function for, or that daxload does not map yet.
        plain.removeAll(EnumSet.of(DType.F8_E8M0, DType.F4, DType.F6_E2M3, DType.F6_E3M2));
        assertEquals(plain, PtTensorViews.supportedDTypes(), "every plain DType with a libtorch 2.7 dtype");
        List<SourceTensor> tensors = new ArrayList<>();
        for (DType d : plain) {
            tensors.add(TestImages.tensor("t." + d, d.name(), SHAPE, encode(d, expected(d))));
        }
        Path img = TestImages.write(tmp, "dtypes.daxfs", tensors);
        try (ModelWeights w = ModelWeights.open(img, TestImages.MODEL)) {
            for (DType d : plain) {
                TensorView t = w.tensor("t." + d);
                PtNDArray a = PtTensorViews.view(manager, t);
                assertEquals(t.segment().address(), PtTensorViews.dataAddress(a), d + ": data_ptr is the tensor's address");
                // The same pointer as DJL's own native code sees it (a direct buffer over data_ptr).
                assertEquals(t.segment().address(), MemorySegment.ofBuffer(a.toByteBuffer(true)).address(), d + " via DJL");
                assertEquals(new Shape(SHAPE), a.getShape());
                assertEquals("t." + d, a.getName());
                assertArrayEquals(expected(d), a.toType(DataType.FLOAT64, true).toDoubleArray(), d + ": values");
                if (d == DType.C64) {
                    byte[] raw = new byte[(int) t.byteSize()];
                    a.toByteBuffer(true).get(raw);
                    assertArrayEquals(encode(d, expected(d)), raw, "C64: real and imaginary parts");
                }
            }
            // Types DJL knows by name also read without conversion.
            assertArrayEquals(new float[] {0, 1, -2, 3.5f, 96, -0.25f}, PtTensorViews.view(manager, w.tensor("t.F32")).toFloatArray());
            assertEquals(DataType.INT8, PtTensorViews.view(manager, w.tensor("t.I8")).getDataType());
        }
    }

    /**
     * The common dtypes go through DJL's JNI binding (nothing to link in a fresh JVM), the others
     * through libtorch's C shim; the test above checks that both give views in place. If a DJL release
     * hid the binding, views would still work, only slower to start: this says so.
     */
    @Test
    void commonDtypesUseDjlsBindingTheRestTheCShim() {
        assertTrue(JniBlobs.get().isPresent(), "DJL's torchFromBlob binding is reachable");
        MemorySegment native1k = java.lang.foreign.Arena.ofAuto().allocate(1024);
        for (DType d : EnumSet.of(DType.F32, DType.F64, DType.F16, DType.I64, DType.I32, DType.I8, DType.U8, DType.BOOL)) {
            assertTrue(JniBlobs.fits(d, native1k), d + " through JNI");
        }
        for (DType d : EnumSet.of(DType.BF16, DType.I16, DType.U16, DType.U32, DType.U64, DType.C64, DType.F8_E4M3)) {
            assertFalse(JniBlobs.fits(d, native1k), d + " through the C shim (DJL's native code aborts or lacks it)");
        }
        assertFalse(JniBlobs.fits(DType.F32, MemorySegment.ofArray(new byte[1024])), "heap memory: the C shim");
    }

    @Test
    void bf16AndI16ViewsWork() throws Exception {
        // The dtypes whose NDManager.create(ByteBuffer) path aborts the JVM.
        Path img = TestImages.write(tmp, "bf16.daxfs", List.of(
                TestImages.tensor("bf", "BF16", new long[] {6}, encode(DType.BF16, FLOATS)),
                TestImages.tensor("i16", "I16", new long[] {6}, encode(DType.I16, new double[] {-32768, -1, 0, 1, 12345, 32767}))));
        try (ModelWeights w = ModelWeights.open(img, TestImages.MODEL)) {
            NDArray bf = PtTensorViews.view(manager, w.tensor("bf"));
            assertArrayEquals(new float[] {0, 1, -2, 3.5f, 96, -0.25f}, bf.toType(DataType.FLOAT32, true).toFloatArray());
            assertEquals(98.25f, bf.toType(DataType.FLOAT32, true).sum().getFloat(), 0f);
            NDArray i16 = PtTensorViews.view(manager, w.tensor("i16"));
            assertArrayEquals(new int[] {-32768, -1, 0, 1, 12345, 32767}, i16.toType(DataType.INT32, true).toIntArray());
            assertEquals(w.tensor("i16").segment().address(), PtTensorViews.dataAddress(i16));
        }
    }

    @Test
    void writesToTheImageShowThroughTheView() throws Exception {
        Path img = TestImages.write(tmp, "w.daxfs", List.of(TestImages.tensor("w", "F32", new long[] {4}, f32(1, 2, 3, 4))));
        try (ModelWeights w = ModelWeights.open(img, TestImages.MODEL)) {
            TensorView t = w.tensor("w");
            NDArray a = PtTensorViews.view(manager, t);
            // Through the file (another writer of the image): the untouched private pages still are the file's pages.
            try (FileChannel ch = FileChannel.open(img, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(f32(40)), t.entry().offset() + 4);
            }
            assertArrayEquals(new float[] {1, 40, 3, 4}, a.toFloatArray());
            // Through the mapping this process holds.
            t.segment().setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 3, 7f);
            assertArrayEquals(new float[] {1, 40, 3, 7}, a.toFloatArray());
        }
    }

    @Test
    void inPlaceOpOnAViewNeitherCrashesNorChangesTheImage() throws Exception {
        Path img = TestImages.write(tmp, "inplace.daxfs", List.of(TestImages.tensor("w", "F32", new long[] {4}, f32(1, 2, 3, 4))));
        byte[] before = Files.readAllBytes(img);
        try (ModelWeights w = ModelWeights.open(img, TestImages.MODEL)) {
            NDArray a = PtTensorViews.view(manager, w.tensor("w"));
            a.addi(1); // on a read-only mapping this would be SIGSEGV; copy-on-write copies the page instead
            assertArrayEquals(new float[] {2, 3, 4, 5}, a.toFloatArray());
            assertEquals(w.tensor("w").segment().address(), PtTensorViews.dataAddress(a), "still in place");
            try (ModelWeights again = ModelWeights.open(img, TestImages.MODEL)) {
                assertEquals(1f, again.tensor("w").segment().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 0), "other mappings see the image");
            }
        }
        assertArrayEquals(before, Files.readAllBytes(img), "the image file is unchanged");
    }

    @Test
    void viewsOfAReadOnlyMappingAreRefusedRatherThanCrashingLater() throws Exception {
        Path img = TestImages.write(tmp, "ro.daxfs", List.of(TestImages.tensor("w", "F32", new long[] {4}, f32(1, 2, 3, 4))));
        try (ModelWeights w = ModelWeights.open(img, TestImages.MODEL, MapOptions.readOnly())) {
            var e = assertThrows(IllegalArgumentException.class, () -> PtTensorViews.view(manager, w.tensor("w")));
            assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("read-only"), e.getMessage());
        }
    }

    @Test
    void closedImageGivesAnExceptionNotACrash() throws Exception {
        Path img = TestImages.write(tmp, "closed.daxfs", List.of(TestImages.tensor("w", "F32", new long[] {4}, f32(1, 2, 3, 4))));
        ModelWeights w = ModelWeights.open(img, TestImages.MODEL);
        TensorView t = w.tensor("w");
        w.close();
        var e = assertThrows(IllegalStateException.class, () -> PtTensorViews.view(manager, t));
        assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("closed"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> PtTensorViews.viewAll(manager, w));
    }

    @Test
    void quantizedTensorsAreRefusedByNameOrGivenAsRawBlocks() throws Exception {
        byte[] blocks = new byte[68];
        blocks[67] = 42;
        Path img = TestImages.write(tmp, "q.daxfs", List.of(
                TestImages.tensor("norm", "F32", new long[] {2}, f32(1, 2)),
                TestImages.tensor("blk.0.attn_q.weight", "Q8_0", new long[] {64}, blocks)));
        try (ModelWeights w = ModelWeights.open(img, TestImages.MODEL)) {
            TensorView q = w.tensor("blk.0.attn_q.weight");
            var e = assertThrows(UnsupportedOperationException.class, () -> PtTensorViews.view(manager, q));
            assertTrue(e.getMessage().contains("'blk.0.attn_q.weight'") && e.getMessage().contains("Q8_0"), e.getMessage());
            assertThrows(UnsupportedOperationException.class, () -> PtTensorViews.viewAll(manager, w));

            PtNDArray raw = PtTensorViews.rawBytes(manager, q);
            assertEquals(new Shape(68), raw.getShape());
            assertEquals(DataType.UINT8, raw.getDataType());
            assertEquals(q.segment().address(), PtTensorViews.dataAddress(raw));
            assertEquals(42, raw.toUint8Array()[67]);

            NDList all = PtTensorViews.viewAll(manager, w, PtTensorViews.Quantized.RAW_BYTES);
            assertEquals(List.of("norm", "blk.0.attn_q.weight"), all.stream().map(NDArray::getName).toList());
            assertEquals(new Shape(68), all.get(1).getShape());
        }
    }

    @Test
    void viewAllKeepsManifestOrderWhileTheShimAndDjlsBindingShareTheWork() throws Exception {
        // BF16 goes through the C shim, whose views are made after DJL's binding has made the others (while the
        // shim links on a helper thread): the list must still follow the manifest, each view over its own tensor.
        Path img = TestImages.write(tmp, "mixed.daxfs", List.of(
                TestImages.tensor("bf1", "BF16", new long[] {6}, encode(DType.BF16, FLOATS)),
                TestImages.tensor("f", "F32", new long[] {2}, f32(1, 2)),
                TestImages.tensor("bf2", "BF16", new long[] {2, 3}, encode(DType.BF16, FLOATS)),
                TestImages.tensor("h", "F16", new long[] {6}, encode(DType.F16, FLOATS))));
        try (ModelWeights w = ModelWeights.open(img, TestImages.MODEL); NDManager sub = manager.newSubManager()) {
            NDList all = PtTensorViews.viewAll(sub, w);
            assertEquals(List.of("bf1", "f", "bf2", "h"), all.stream().map(NDArray::getName).toList());
            for (NDArray a : all) {
                assertEquals(w.tensor(a.getName()).segment().address(), PtTensorViews.dataAddress(a), a.getName());
            }
            assertEquals(new Shape(2, 3), all.get(2).getShape());
            assertEquals(98.25f, all.get(2).toType(DataType.FLOAT32, true).sum().getFloat(), 0f);
            assertEquals(3f, all.get(1).sum().getFloat(), 0f);
            assertEquals(98.25f, all.get(3).toType(DataType.FLOAT32, true).sum().getFloat(), 0f);
        }
    }

    @Test
    void viewAllNamesEveryTensorAndCanCloseTheWeightsWithTheManager() throws Exception {
        Path img = TestImages.write(tmp, "all.daxfs", List.of(
                TestImages.tensor("b", "F32", new long[] {2}, f32(1, 2)),
                TestImages.tensor("a", "I64", new long[] {1}, encode(DType.I64, new double[] {5})),
                TestImages.tensor("s", "F32", new long[] {}, f32(9))));
        ModelWeights w = ModelWeights.open(img, TestImages.MODEL);
        NDManager sub = manager.newSubManager();
        PtTensorViews.closeWithManager(sub, w);
        NDList all = PtTensorViews.viewAll(sub, w);
        assertEquals(List.of("b", "a", "s"), all.stream().map(NDArray::getName).toList());
        assertEquals(new Shape(), all.get(2).getShape(), "a scalar");
        assertEquals(9f, all.get(2).getFloat());
        Map<String, PtNDArray> byName = PtTensorViews.viewMap(sub, w.tensors().values(), PtTensorViews.Quantized.REFUSE);
        assertEquals(5L, byName.get("a").getLong());
        sub.close();
        assertFalse(w.image().isOpen(), "closing the manager closed the weights");
    }

    /**
     * A single tensor of 2.5 GiB and 2^31 + 2^29 elements: past both limits of create(ByteBuffer). The
     * image is sparse, so it costs no disk; only markers at both ends are real bytes.
     */
    @Test
    void tensorOverTwoGiBAndTwoToThe31Elements() throws Exception {
        long rows = 10;
        long cols = 1L << 28;
        long size = rows * cols;
        Path img = TestImages.write(tmp, "big.daxfs", List.of(new SourceTensor("big", "U8", new long[] {rows, cols},
                TestImages.sparse(size, Map.of(0L, new byte[] {1, 2}, size - 2, new byte[] {7, 8})))));
        try (ModelWeights w = ModelWeights.open(img, TestImages.MODEL)) {
            TensorView t = w.tensor("big");
            PtNDArray a = PtTensorViews.view(manager, t);
            assertEquals(new Shape(rows, cols), a.getShape());
            assertTrue(a.size() > Integer.MAX_VALUE);
            assertEquals(t.segment().address(), PtTensorViews.dataAddress(a));
            assertEquals(1, a.get(0, 0).toUint8Array()[0]);
            assertEquals(8, a.get(rows - 1, cols - 1).toUint8Array()[0]);
            assertEquals(7, a.get(rows - 1, cols - 2).toUint8Array()[0]);
            assertEquals(0, a.get(5, 12345).toUint8Array()[0]);
            a.close(); // before the image: the mapping outlives every array over it
        }
    }

    /**
     * Views of every tensor of a 512 MiB model, each read whole (a sum), add next to no anonymous
     * memory: the pages are the image's page cache. Copying them into libtorch (the baseline) adds
     * about their size.
     */
    @Test
    void viewsAddNoAnonymousMemoryWhileCopiesAddTheirSize() throws Exception {
        int tensors = 64;
        int floats = 2 << 20; // 8 MiB each
        long weightBytes = (long) tensors * floats * 4;
        Path blob = tmp.resolve("blob.f32");
        try (FileChannel ch = FileChannel.open(blob, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(floats * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < floats; i++) {
                b.putFloat(i % 8); // sums exactly in float: 3.5 on average
            }
            b.flip();
            while (b.hasRemaining()) {
                ch.write(b);
            }
        }
        List<SourceTensor> list = new ArrayList<>();
        for (int i = 0; i < tensors; i++) {
            list.add(new SourceTensor("layer." + i + ".weight", "F32", new long[] {2048, 1024},
                    FileContent.range(blob, 0, (long) floats * 4)));
        }
        Path img = TestImages.write(tmp, "512m.daxfs", list);
        Files.delete(blob);
        try (ModelWeights w = ModelWeights.open(img, TestImages.MODEL)) {
            // One pass outside the measurement: libtorch's thread pools and kernels, the JIT, and the
            // packager's leftovers settle, so the measured pass sees only what views themselves cost.
            try (NDManager warm = manager.newSubManager()) {
                for (NDArray v : PtTensorViews.viewAll(warm, w)) {
                    v.sum().getFloat();
                }
            }
            long anon0 = NativeAnonymousMemory.bytes();
            long t0 = System.nanoTime();
            NDList views = PtTensorViews.viewAll(manager, w);
            long viewNanos = System.nanoTime() - t0;
            for (NDArray v : views) {
                assertEquals(3.5 * floats, v.sum().getFloat(), 0.0, v.getName());
            }
            long anon1 = NativeAnonymousMemory.bytes();
            List<NDArray> copies = new ArrayList<>();
            for (NDArray v : views) {
                copies.add(v.duplicate()); // the baseline: the same weights copied into libtorch memory
            }
            long anon2 = NativeAnonymousMemory.bytes();
            long viewGrowth = anon1 - anon0;
            long copyGrowth = anon2 - anon1;
            System.out.printf("%d views of %d MiB made in %.2f ms; anonymous memory: views (read whole) +%.1f MiB, copies +%.1f MiB%n",
                    tensors, weightBytes >> 20, viewNanos / 1e6, viewGrowth / 1048576.0, copyGrowth / 1048576.0);
            assertTrue(viewGrowth < weightBytes / 20, "views grew anonymous memory by " + viewGrowth + " bytes");
            assertTrue(copyGrowth > weightBytes * 9 / 10, "the baseline copies should add ~" + weightBytes + " but added " + copyGrowth);
            copies.forEach(NDArray::close);
            views.close(); // arrays before the image they point into
        }
    }

    static double[] expected(DType d) {
        return switch (d) {
            case F64, F32, F16, BF16, F8_E4M3, F8_E5M2, F8_E4M3FNUZ, F8_E5M2FNUZ -> FLOATS;
            case C64 -> FLOATS; // the real parts; the imaginary parts are checked through the raw bytes
            case I64, I32, I16, I8 -> SIGNED;
            case U64, U32, U16, U8 -> UNSIGNED;
            case BOOL -> BOOLS;
            default -> throw new IllegalArgumentException(d.name());
        };
    }

    static byte[] f32(float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return b.array();
    }

    /** Little-endian bytes of exactly representable values in {@code d}, written here independently of libtorch. */
    static byte[] encode(DType d, double[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * d.blockBytes()).order(ByteOrder.LITTLE_ENDIAN);
        for (double v : values) {
            switch (d) {
                case F64 -> b.putDouble(v);
                case F32 -> b.putFloat((float) v);
                case F16 -> b.putShort(Float.floatToFloat16((float) v));
                case BF16 -> b.putShort((short) (Float.floatToRawIntBits((float) v) >>> 16)); // exact for these values
                case F8_E4M3 -> b.put(fp8(v, 3, 7));
                case F8_E5M2 -> b.put(fp8(v, 2, 15));
                case F8_E4M3FNUZ -> b.put(fp8(v, 3, 8));
                case F8_E5M2FNUZ -> b.put(fp8(v, 2, 16));
                case C64 -> b.putFloat((float) v).putFloat((float) -v);
                case I64, U64 -> b.putLong((long) v);
                case I32, U32 -> b.putInt((int) (long) v);
                case I16, U16 -> b.putShort((short) (long) v);
                case I8, U8, BOOL -> b.put((byte) (long) v);
                default -> throw new IllegalArgumentException(d.name());
            }
        }
        return b.array();
    }

    /** An 8-bit float with {@code mantissaBits} and {@code bias}, for normal values whose mantissa fits. */
    static byte fp8(double v, int mantissaBits, int bias) {
        if (v == 0) {
            return 0;
        }
        int sign = v < 0 ? 0x80 : 0;
        int exp = Math.getExponent(v);
        double frac = Math.abs(v) / Math.scalb(1.0, exp) - 1; // in [0, 1)
        int mant = (int) (frac * (1 << mantissaBits));
        assertEquals(frac, mant / (double) (1 << mantissaBits), "not exact in fp8: " + v);
        return (byte) (sign | (exp + bias) << mantissaBits | mant);
    }
}
