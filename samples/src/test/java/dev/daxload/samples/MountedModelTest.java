package dev.daxload.samples;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoopTranslator;
import ai.djl.util.Pair;
import dev.daxload.cli.Daxload;
import dev.daxload.djl.PtTensorViews;
import dev.daxload.djl.internal.SharedImages;
import dev.daxload.manifest.DType;
import dev.daxload.model.ModelWeights;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.model.ModelPackager;
import dev.daxload.packager.source.OnnxReader;
import dev.daxload.samples.bert.BertEncoder;
import dev.daxload.samples.bert.OnnxBertNames;
import dev.daxload.tensor.TensorView;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * all-MiniLM-L6-v2 loaded from a mounted DAXFS, on the real daxfs module: {@code daxload mount} puts
 * the image in a dma-buf of the system heap, in a udmabuf, or finds it at a physical address (placed by
 * QEMU's {@code -device loader} in memory set aside with {@code memmap=}); then {@code ModelWeights} and
 * a {@code daxfs:} URL naming the mount directory serve every tensor as a view of that memory (the
 * mount's dma-buf, or the physical range through /dev/mem), ONNX Runtime computes what it computes over
 * the file-mapped image, and so does PyTorch: over the physical range (copy-on-write) with ordinary
 * views, over a dma-buf (which maps only read-only) with read-only views that refuse in-place ops.
 *
 * <p>Needs root and the daxfs module: it runs in the QEMU guest of {@code dmabuf-bridge/qemu/run-tests.sh},
 * which packs the image on the host ({@code daxload.mountImage}) and places it at {@code daxload.physImage};
 * elsewhere it skips saying so.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MountedModelTest {
    static final String MODEL = "minilm";
    static final Pattern MAPS_LINE = Pattern.compile("^([0-9a-f]+)-([0-9a-f]+) \\S+ \\S+ \\S+ \\S+\\s*(.*)$");
    static Path modelDir = Path.of(System.getProperty("daxload.testModels", "target/models")).resolve("all-minilm-l6-v2");
    @TempDir static Path tmp;
    static Path image;
    /** Embeddings of the file-mapped image: what every mount must give. */
    static List<float[]> expected;

    /** Why the tests cannot run here, or null: each test skips saying so (the build shows them as skipped). */
    static String missing;

    @BeforeAll
    static void packAndBaseline() throws Exception {
        if (!Files.readString(Path.of("/proc/filesystems")).contains("\tdaxfs\n")) {
            missing = "needs the daxfs module loaded (runs in the QEMU guest: dmabuf-bridge/qemu/run-tests.sh)";
        } else if (!"root".equals(System.getProperty("user.name"))) {
            missing = "needs root to mount";
        }
        if (missing != null) {
            return;
        }
        String packed = System.getProperty("daxload.mountImage");
        if (packed != null) {
            image = Path.of(packed);
        } else {
            image = tmp.resolve("minilm.daxfs");
            Path tok = modelDir.resolve("all-minilm-l6-v2-tokenizer.json");
            ModelPackager p = new ModelPackager();
            p.model(MODEL).add(new OnnxReader().read(modelDir.resolve("all-minilm-l6-v2.onnx")))
                    .sideFile("tokenizer.json", FileContent.of(tok, Files.size(tok)));
            p.write(new ImageWriter(), image);
        }
        expected = embed(image);
    }

    @Test
    @Order(1)
    void fromTheSystemHeap() throws Exception {
        loadFromMount("heap", "heap", "dmabuf");
    }

    @Test
    @Order(2)
    void fromAUdmabuf() throws Exception {
        loadFromMount("udmabuf", "udmabuf", "dmabuf");
    }

    @Test
    @Order(3)
    void fromAPhysicalRange() throws Exception {
        String addr = System.getProperty("daxload.physImage");
        assumeTrue(addr != null, "needs the image placed at a physical address (daxload.physImage=ADDR, memmap= and QEMU's -device loader)");
        loadFromMount("phys", "phys=" + addr, "/dev/mem");
    }

    @BeforeEach
    void needsTheModule() {
        assumeTrue(missing == null, missing);
    }

    private void loadFromMount(String name, String via, String mappedFrom) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("mnt-" + name));
        assertEquals(0, Daxload.run("mount", image.toString(), dir.toString(), "--via", via), "daxload mount --via " + via);
        try {
            weightsAreViewsOfTheMountedMemory(dir, mappedFrom);
            pyTorchRunsTheWholeModelOnViewsOfTheMount(dir, mappedFrom);
            onnxRuntimeOverTheMountGivesTheSameEmbeddings(dir);
        } finally {
            assertEquals(0, Daxload.run("umount", dir.toString()), "daxload umount " + dir);
        }
        assertEquals(0, SharedImages.openCount(), "every mapping of the mount released");
    }

    /** Every tensor lies inside the one mapping of the mounted memory and holds the image file's bytes; PyTorch agrees. */
    private static void weightsAreViewsOfTheMountedMemory(Path dir, String mappedFrom) throws Exception {
        long anonBefore = NativeAnonymousMemory.bytes();
        try (ModelWeights mounted = ModelWeights.open(dir, MODEL);
             ModelWeights file = ModelWeights.open(image, MODEL);
             NDManager manager = NDManager.newBaseManager("PyTorch")) {
            MemorySegment whole = mounted.image().segment();
            long start = whole.address();
            long end = start + whole.byteSize();
            String backing = mappingOf(start);
            assertTrue(backing.contains(mappedFrom), "the image's mapping at 0x" + Long.toHexString(start) + " is " + backing
                    + ", expected " + mappedFrom);
            assertEquals(file.image().superblock(), mounted.image().superblock(), "the mount holds the image file's image");
            // A dma-buf maps only shared (MAP_PRIVATE is refused) and the module hands it out read-only,
            // so copy-on-write falls back to a read-only mapping; the phys= range maps copy-on-write.
            boolean writable = !whole.isReadOnly();
            assertEquals(!mappedFrom.equals("dmabuf"), writable, "mapping of " + backing + " writable (copy-on-write)");
            long weightBytes = 0;
            int matmuls = 0;
            int refused = 0;
            // Read-only memory takes read-only views (an in-place op would be a SIGSEGV); the default refuses it.
            PtTensorViews.Writes writes = writable ? PtTensorViews.Writes.NEED_WRITABLE : PtTensorViews.Writes.REFUSE_IN_PLACE;
            for (TensorView t : mounted.tensors().values()) {
                long a = t.segment().address();
                assertTrue(a >= start && a + t.byteSize() <= end, t.name() + " at 0x" + Long.toHexString(a) + " lies outside the mount's memory");
                TensorView f = file.tensor(t.name());
                assertEquals(-1, t.segment().mismatch(f.segment()), t.name() + ": bytes differ from the image file");
                weightBytes += t.byteSize();
                if (t.dtype() != DType.F32) {
                    continue;
                }
                if (!writable) {
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PtTensorViews.view(manager, t));
                    assertTrue(e.getMessage().contains("'" + t.name() + "' lies in memory mapped read-only")
                            && e.getMessage().contains("views=readonly"), e.getMessage());
                }
                PtNDArray v = PtTensorViews.view(manager, t, writes);
                assertEquals(a, PtTensorViews.dataAddress(v), t.name() + ": PyTorch's data_ptr is the mounted memory");
                if (!writable) {
                    UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> v.addi(1));
                    assertTrue(e.getMessage().contains("'" + t.name() + "' is a read-only view"), e.getMessage());
                    // A libtorch view of the same bytes is guarded too (a write there would be the same SIGSEGV).
                    NDArray flat = v.flatten();
                    assertEquals(a, PtTensorViews.dataAddress(flat), t.name() + ": flatten is a view of the mount");
                    assertThrows(UnsupportedOperationException.class, () -> flat.muli(2), t.name() + ": muli on its flatten()");
                    refused++;
                }
                if (v.getShape().dimension() == 2) {
                    // A layer's product as the model computes it, over the mount and over the file.
                    NDArray x = manager.arange((float) v.getShape().get(1) * 2).reshape(2, v.getShape().get(1)).div(1000f);
                    NDArray got = x.matMul(v.transpose());
                    NDArray want = x.matMul(PtTensorViews.view(manager, f).transpose());
                    assertTrue(got.contentEquals(want), t.name() + ": PyTorch's product over the mount differs from the file's");
                    matmuls++;
                }
            }
            assertTrue(matmuls >= 36, "MiniLM has 36+ weight matrices; multiplied " + matmuls);
            assertEquals(writable ? 0 : mountedF32(mounted), refused, "every read-only view refused addi");
            long grew = NativeAnonymousMemory.bytes() - anonBefore;
            System.out.printf("[mount %s] %d tensors, %d MB, all views of %s (%s); PyTorch: %s; anonymous memory +%d kB%n",
                    dir, mounted.tensors().size(), weightBytes >> 20, backing, writable ? "copy-on-write" : "read-only",
                    matmuls + " products identical to the file's" + (writable ? "" : ", read-only views: addi (and muli on flatten()) refused on all " + refused),
                    grew >> 10);
            // Read every weight twice over (compare, multiply): a copy would add ~90 MB.
            assertTrue(grew < weightBytes / 4, "anonymous memory grew by " + (grew >> 10) + " kB for " + (weightBytes >> 10) + " kB of weights");
        }
    }

    private static int mountedF32(ModelWeights w) {
        return (int) w.tensors().values().stream().filter(t -> t.dtype() == DType.F32).count();
    }

    /**
     * The whole of all-MiniLM-L6-v2 on DJL's PyTorch engine ({@link BertEncoder} with the real weights), its
     * parameters read-only views of the mounted memory ({@code views=readonly}: a dma-buf mapping is
     * read-only): every parameter's data_ptr inside that mapping, the outputs the same bits as the same
     * encoder over the file-mapped image.
     */
    private static void pyTorchRunsTheWholeModelOnViewsOfTheMount(Path dir, String mappedFrom) throws Exception {
        BertEncoder.Config config = BertEncoder.Config.MINILM_L6;
        Map<String, String> names;
        try (ModelWeights w = ModelWeights.open(image, MODEL)) {
            names = OnnxBertNames.of(w.tensors().keySet(), config.layers());
        }
        float[] fromFile = bertOutput("daxfs://" + image.toAbsolutePath() + "?model=" + MODEL, config, names, null);
        float[] fromMount = bertOutput("daxfs://" + dir.toAbsolutePath() + "?model=" + MODEL + "&views=readonly", config, names, mappedFrom);
        assertArrayEquals(fromFile, fromMount, "PyTorch over the mount: the whole model's output equals the file-mapped image's");
        System.out.printf("[mount %s] PyTorch (BertEncoder, read-only views): %d output values identical to the file-mapped image's%n",
                dir, fromMount.length);
    }

    private static float[] bertOutput(String url, BertEncoder.Config config, Map<String, String> names, String mappedFrom) throws Exception {
        try (ZooModel<NDList, NDList> model = Criteria.builder().setTypes(NDList.class, NDList.class)
                        .optModelUrls(url).optEngine("PyTorch")
                        .optArgument("daxfs.block", new BertEncoder.Factory(config)).optArgument("daxfs.names", names)
                        .optTranslator(new NoopTranslator()).build().loadModel();
             Predictor<NDList, NDList> p = model.newPredictor();
             NDManager m = NDManager.newBaseManager("PyTorch")) {
            if (mappedFrom != null) {
                int bound = 0;
                for (Pair<String, Parameter> param : model.getBlock().getParameters()) {
                    long at = PtTensorViews.dataAddress(param.getValue().getArray());
                    String where = mappingOf(at);
                    assertTrue(where.contains(mappedFrom), param.getKey() + ": data_ptr " + Long.toHexString(at) + " lies in " + where + ", not the mount's " + mappedFrom + " mapping");
                    bound++;
                }
                assertEquals(5 + config.layers() * 16, bound, "every parameter of the encoder is a view");
            }
            return p.predict(BertEncoderViewsTest.input(m, 2)).head().toFloatArray();
        }
    }

    /** A daxfs: URL naming the mount: ONNX Runtime's embeddings equal the file-mapped image's, side files come from the mount. */
    private static void onnxRuntimeOverTheMountGivesTheSameEmbeddings(Path dir) throws Exception {
        // The tokenizer too is read from the mount: a side file of the model.
        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(dir.resolve(MODEL + "/files/tokenizer.json"))) {
            long before = NativeAnonymousMemory.bytes();
            try (ZooModel<String, float[]> model = MiniLmDemo.fromImage(dir, false, new SentenceEmbeddingTranslator(tokenizer, true));
                 Predictor<String, float[]> p = model.newPredictor()) {
                long grew = NativeAnonymousMemory.bytes() - before;
                assertEquals(dir.resolve(MODEL + "/files").toRealPath(), model.getModelPath().toRealPath(),
                        "the engine reads the model's side files from the mount, not from a copy");
                for (int i = 0; i < MiniLmDemo.SENTENCES.size(); i++) {
                    assertArrayEquals(expected.get(i), p.predict(MiniLmDemo.SENTENCES.get(i)), "embedding of '" + MiniLmDemo.SENTENCES.get(i) + "'");
                }
                System.out.printf("[mount %s] ONNX Runtime: %d embeddings identical to the file-mapped image's; anonymous memory +%d kB at load%n",
                        dir, expected.size(), grew >> 10);
                // The weights are 90 MB of F32; ORT's session itself takes ~20 MB.
                assertTrue(grew < 45L << 20, "loading from the mount grew anonymous memory by " + (grew >> 10) + " kB: weights copied?");
            }
        }
    }

    private static List<float[]> embed(Path source) throws Exception {
        List<float[]> out = new ArrayList<>();
        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(modelDir.resolve("all-minilm-l6-v2-tokenizer.json"));
             ZooModel<String, float[]> model = MiniLmDemo.fromImage(source, false, new SentenceEmbeddingTranslator(tokenizer, true));
             Predictor<String, float[]> p = model.newPredictor()) {
            for (String s : MiniLmDemo.SENTENCES) {
                out.add(p.predict(s));
            }
        }
        return out;
    }

    /** What /proc/self/maps says is mapped at {@code address}. */
    static String mappingOf(long address) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            Matcher m = MAPS_LINE.matcher(line);
            if (m.matches() && Long.parseUnsignedLong(m.group(1), 16) <= address && address < Long.parseUnsignedLong(m.group(2), 16)) {
                return m.group(3).isEmpty() ? "[anonymous]" : m.group(3);
            }
        }
        return "[nothing]";
    }
}
