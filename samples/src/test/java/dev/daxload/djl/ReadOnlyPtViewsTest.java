package dev.daxload.djl;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import dev.daxload.image.MapOptions;
import dev.daxload.model.ModelWeights;
import dev.daxload.tensor.TensorView;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.ByteBuffer;
import java.nio.ReadOnlyBufferException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Read-only PyTorch views ({@link PtTensorViews.Writes#REFUSE_IN_PLACE}) over an image mapped
 * read-only for real ({@code PROT_READ}, as a mount's dma-buf is): views in place, functional ops
 * answer, and every write DJL's NDArray offers is refused by name before libtorch could fault (a
 * missed one kills this JVM, which fails the build).
 */
class ReadOnlyPtViewsTest {
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

    private Path image() throws Exception {
        return TestImages.write(tmp, "ro.daxfs", List.of(
                TestImages.tensor("w", "F32", new long[] {2, 2}, PtTensorViewsTest.f32(1, 2, 3, 4)),
                TestImages.tensor("b", "F32", new long[] {2}, PtTensorViewsTest.f32(10, 20))));
    }

    @Test
    void aReadOnlyMappingGivesViewsInPlaceThatComputeAndRefuseEveryWrite() throws Exception {
        Path img = image();
        byte[] before = Files.readAllBytes(img);
        try (ModelWeights w = ModelWeights.open(img, TestImages.MODEL, MapOptions.readOnly())) {
            TensorView t = w.tensor("w");
            assertTrue(t.segment().isReadOnly(), "the fixture is a read-only mapping");
            PtNDArray a = PtTensorViews.view(manager, t, PtTensorViews.Writes.REFUSE_IN_PLACE);
            PtNDArray b = PtTensorViews.view(manager, w.tensor("b"), PtTensorViews.Writes.REFUSE_IN_PLACE);
            assertEquals(t.segment().address(), PtTensorViews.dataAddress(a), "data_ptr is the mapped tensor");
            // Functional ops make new arrays: a layer's y = x W^T + b over the read-only weights.
            NDArray x = manager.create(new float[] {1, 1}, new Shape(1, 2));
            assertArrayEquals(new float[] {13, 27}, x.matMul(a.transpose()).add(b).toFloatArray());

            Map<String, Consumer<NDArray>> writes = new LinkedHashMap<>();
            NDArray one = manager.ones(new Shape(2, 2));
            writes.put("addi", v -> v.addi(1));
            writes.put("addi(NDArray)", v -> v.addi(one));
            writes.put("subi", v -> v.subi(1));
            writes.put("subi(NDArray)", v -> v.subi(one));
            writes.put("muli", v -> v.muli(2));
            writes.put("muli(NDArray)", v -> v.muli(one));
            writes.put("divi", v -> v.divi(2));
            writes.put("divi(NDArray)", v -> v.divi(one));
            writes.put("modi", v -> v.modi(2));
            writes.put("modi(NDArray)", v -> v.modi(one));
            writes.put("powi", v -> v.powi(2));
            writes.put("powi(NDArray)", v -> v.powi(one));
            writes.put("negi", NDArray::negi);
            writes.put("signi", NDArray::signi);
            writes.put("set(float[])", v -> v.set(new float[] {0, 0, 0, 0}));
            writes.put("set(Buffer)", v -> v.set(ByteBuffer.allocateDirect(16)));
            writes.put("set(NDIndex, Number)", v -> v.set(new NDIndex("0"), 5));
            writes.put("set(NDIndex, NDArray)", v -> v.set(new NDIndex("0"), manager.zeros(new Shape(2))));
            writes.put("set(NDIndex, Function)", v -> v.set(new NDIndex("0"), r -> r.mul(2)));
            writes.put("set(NDArray, Number)", v -> v.set(manager.create(new boolean[] {true, false, false, true}, new Shape(2, 2)), 0));
            writes.put("setScalar", v -> v.setScalar(new NDIndex("0, 0"), 5));
            writes.put("copyTo", v -> one.copyTo(v));
            for (var e : writes.entrySet()) {
                var ex = assertThrows(UnsupportedOperationException.class, () -> e.getValue().accept(a), e.getKey() + " was let through");
                assertTrue(ex.getMessage().startsWith("tensor 'w' is a read-only view"), e.getKey() + ": " + ex.getMessage());
            }
            ByteBuffer direct = a.toByteBuffer(true);
            assertTrue(direct.isReadOnly(), "toByteBuffer hands out no writable buffer over the tensor");
            assertThrows(ReadOnlyBufferException.class, () -> direct.putFloat(0, 9f));
            assertEquals(1f, direct.getFloat(0), "reads go on");
            assertArrayEquals(new float[] {1, 2, 3, 4}, a.toFloatArray(), "the view still holds the image's values");
            // duplicate() is the documented way to write: a copy, in anonymous memory.
            NDArray copy = a.duplicate().addi(1);
            assertArrayEquals(new float[] {2, 3, 4, 5}, copy.toFloatArray());
            assertNotEquals(PtTensorViews.dataAddress(a), PtTensorViews.dataAddress(copy));
        }
        assertArrayEquals(before, Files.readAllBytes(img), "the image is unchanged");
    }

    /**
     * Ops that give libtorch views of the same bytes hand back guarded arrays: an in-place op on a
     * reshape, a transpose, a slice, a split ... of a read-only view is refused, not a SIGSEGV (a missed
     * one kills this JVM). Ops that copy give ordinary arrays that take writes.
     */
    @Test
    void viewsDerivedFromAReadOnlyViewRefuseWritesToo() throws Exception {
        try (ModelWeights w = ModelWeights.open(image(), TestImages.MODEL, MapOptions.readOnly())) {
            TensorView t = w.tensor("w");
            PtNDArray a = PtTensorViews.view(manager, t, PtTensorViews.Writes.REFUSE_IN_PLACE);
            long start = t.segment().address();
            Map<String, NDArray> aliases = new LinkedHashMap<>();
            aliases.put("reshape", a.reshape(4));
            aliases.put("reshape(Shape)", a.reshape(new Shape(1, 4)));
            aliases.put("transpose", a.transpose());
            aliases.put("transpose(1, 0)", a.transpose(1, 0));
            aliases.put("swapAxes", a.swapAxes(0, 1));
            aliases.put("flatten", a.flatten());
            aliases.put("expandDims", a.expandDims(0));
            aliases.put("squeeze", a.expandDims(0).squeeze());
            aliases.put("squeeze(0)", a.expandDims(0).squeeze(0));
            aliases.put("broadcast", a.broadcast(new Shape(3, 2, 2)));
            aliases.put("get(\"1\")", a.get("1"));
            aliases.put("get(1)", a.get(1));
            aliases.put("get(NDIndex slice)", a.get(new NDIndex(":, 1:")));
            aliases.put("split", a.split(2).get(1));
            aliases.put("stopGradient", a.stopGradient());
            aliases.put("transpose().transpose()", a.transpose().transpose());
            for (var e : aliases.entrySet()) {
                long data = PtTensorViews.dataAddress(e.getValue());
                assertTrue(data >= start && data < start + t.byteSize(), e.getKey() + " is a view of the tensor's bytes");
                var ex = assertThrows(UnsupportedOperationException.class, () -> e.getValue().addi(1), e.getKey() + ": addi let through");
                assertTrue(ex.getMessage().startsWith("tensor 'w' is a read-only view"), e.getKey() + ": " + ex.getMessage());
                assertThrows(UnsupportedOperationException.class, () -> e.getValue().set(new NDIndex("0"), 9), e.getKey() + ": set let through");
            }
            assertArrayEquals(new float[] {1, 3, 2, 4}, aliases.get("transpose").toFloatArray(), "the aliases read the tensor");
            NDArray copy = a.add(1);
            copy.addi(1); // a new array, in anonymous memory
            assertArrayEquals(new float[] {3, 4, 5, 6}, copy.toFloatArray());
            // Flattening the transpose cannot be a view (its strides do not allow it): libtorch copies, and the copy takes writes.
            NDArray reshaped = a.transpose().reshape(4);
            long data = PtTensorViews.dataAddress(reshaped);
            assertFalse(data >= start && data < start + t.byteSize(), "reshape of a transpose is a copy");
            reshaped.addi(1);
            assertArrayEquals(new float[] {2, 4, 3, 5}, reshaped.toFloatArray());
            assertArrayEquals(new float[] {1, 2, 3, 4}, a.toFloatArray(), "the view still holds the image's values");
        }
    }

    @Test
    void theDefaultStillRefusesReadOnlyMemoryAndSaysHowToAskForReadOnlyViews() throws Exception {
        try (ModelWeights w = ModelWeights.open(image(), TestImages.MODEL, MapOptions.readOnly())) {
            var e = assertThrows(IllegalArgumentException.class, () -> PtTensorViews.view(manager, w.tensor("w")));
            assertTrue(e.getMessage().contains("'w' lies in memory mapped read-only") && e.getMessage().contains("views=readonly"), e.getMessage());
        }
    }

    @Test
    void onCopyOnWriteMemoryReadOnlyViewsRefuseWritesAllTheSame() throws Exception {
        try (ModelWeights w = ModelWeights.open(image(), TestImages.MODEL)) {
            PtNDArray a = PtTensorViews.view(manager, w.tensor("w"), PtTensorViews.Writes.REFUSE_IN_PLACE);
            assertThrows(UnsupportedOperationException.class, () -> a.addi(1));
            PtNDArray writable = PtTensorViews.view(manager, w.tensor("w"));
            writable.addi(1); // the default view of copy-on-write memory writes a private page
            assertArrayEquals(new float[] {2, 3, 4, 5}, writable.toFloatArray());
        }
    }

    /**
     * Every method of DJL's NDArray that writes the array in place (an {@code ...i} op, a {@code set}) is
     * overridden by the guard: a DJL release that adds one fails here instead of crashing a JVM later.
     */
    @Test
    void theGuardCoversEveryInPlaceMethodDjlHas() throws Exception {
        Class<?> guard = Class.forName("dev.daxload.djl.GuardedPtNDArray");
        TreeSet<String> missing = new TreeSet<>();
        List<String> checked = new ArrayList<>();
        for (Class<?> api : List.of(NDArray.class, PtNDArray.class)) {
            for (Method m : api.getMethods()) {
                String n = m.getName();
                boolean inPlace = n.matches("[a-z]+i") && NDArray.class.isAssignableFrom(m.getReturnType())
                        || n.startsWith("set") && !n.equals("setName") && !n.equals("setRequiresGradient");
                if (!inPlace || Modifier.isStatic(m.getModifiers())) {
                    continue;
                }
                checked.add(n);
                try {
                    Method own = guard.getDeclaredMethod(n, m.getParameterTypes());
                    assertFalse(own.isBridge(), n);
                } catch (NoSuchMethodException e) {
                    if (!(m.getParameterCount() == 1 && m.getParameterTypes()[0].isArray() && n.equals("set"))) { // set(float[]) -> set(Buffer)
                        missing.add(n + List.of(m.getParameterTypes()).stream().map(Class::getSimpleName).toList());
                    }
                }
            }
        }
        assertTrue(checked.size() >= 20, "found the in-place methods: " + checked);
        assertTrue(missing.isEmpty(), "in-place methods the read-only guard does not refuse: " + missing);
    }
}
