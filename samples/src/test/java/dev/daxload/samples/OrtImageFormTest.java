package dev.daxload.samples;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import dev.daxload.djl.internal.SharedImages;
import dev.daxload.djl.onnx.internal.OrtImageForm;
import dev.daxload.image.DaxImage;
import dev.daxload.packager.source.onnxproto.ModelProto;
import dev.daxload.packager.source.onnxproto.StringStringEntryProto;
import dev.daxload.packager.source.onnxproto.TensorProto;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ONNX Runtime's own optimized form carried in the image (pack-model --ort-prepack), loaded through a
 * daxfs: URL by the real engine: answers equal those of the plain .onnx file, ORT maps the prepacked
 * blobs from the image file (its mappings of the image cover every blob's range, and private memory
 * does not grow by their size), and a form whose key names other CPU features is refused with one log
 * line and the tensors are used instead. Memory growth is measured in fresh JVMs ({@link OrtLoadMemoryProbe}):
 * in this one, earlier sessions' freed copies sit in malloc's free lists and hide new ones.
 */
class OrtImageFormTest {
    static Path modelDir = Path.of(System.getProperty("daxload.testModels", "target/models")).resolve("all-minilm-l6-v2");
    @TempDir static Path tmp;
    static Path image;
    static Path foreignImage;
    static SentenceEmbeddingTranslator translator;
    static HuggingFaceTokenizer tokenizer;
    static String foreignFeature;

    @BeforeAll
    static void pack() throws Exception {
        // Packed by the command line in a process of its own: ORT's packing in this JVM would leave the
        // blobs it freed in malloc's free lists, and the memory comparison below would reuse them.
        Path onnx = modelDir.resolve("all-minilm-l6-v2.onnx");
        image = tmp.resolve("minilm-ort.daxfs");
        daxload("pack-model", "--ort-prepack", "-q", "--name", "minilm", onnx.toString(), "-o", image.toString());
        // The same form with its key claiming other CPU features: its first feature renamed in place.
        foreignImage = tmp.resolve("minilm-foreign.daxfs");
        Files.copy(image, foreignImage);
        long keyAt;
        byte[] key;
        try (DaxImage di = DaxImage.open(foreignImage)) {
            OrtImageForm form = OrtImageForm.list(di, "minilm").get(0);
            var inode = di.resolve(form.dir() + "/" + OrtImageForm.KEY_FILE);
            keyAt = di.absoluteOffset(inode.dataOffset());
            key = di.content(inode).toArray(ValueLayout.JAVA_BYTE);
            foreignFeature = form.key().isa().get(0);
        }
        String json = new String(key, StandardCharsets.UTF_8);
        String fake = "z".repeat(foreignFeature.length());
        String patched = json.replace("\"" + foreignFeature + "\"", "\"" + fake + "\"");
        assertNotEquals(json, patched);
        try (var ch = java.nio.channels.FileChannel.open(foreignImage, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(patched.getBytes(StandardCharsets.UTF_8)), keyAt);
        }
        tokenizer = HuggingFaceTokenizer.newInstance(modelDir.resolve("all-minilm-l6-v2-tokenizer.json"));
        translator = new SentenceEmbeddingTranslator(tokenizer, true);
    }

    /** Runs the command line in a JVM of its own. */
    static void daxload(String... args) throws Exception {
        String javaBin = ProcessHandle.current().info().command().orElseThrow();
        List<String> cmd = new ArrayList<>(List.of(javaBin, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                "dev.daxload.cli.Daxload"));
        cmd.addAll(List.of(args));
        assertEquals(0, new ProcessBuilder(cmd).inheritIO().start().waitFor(), "daxload " + String.join(" ", args));
    }

    /** Anonymous memory outside the heap that one load of {@code img} with {@code query} adds, in a JVM of its own. */
    static long growthInFreshJvm(Path img, String query) throws Exception {
        String javaBin = ProcessHandle.current().info().command().orElseThrow();
        Process p = new ProcessBuilder(javaBin, "--enable-native-access=ALL-UNNAMED", "-Dai.djl.offline=true",
                "-cp", System.getProperty("java.class.path"), OrtLoadMemoryProbe.class.getName(), img.toAbsolutePath().toString(), query)
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), "memory probe: " + out);
        return Long.parseLong(out.lines().filter(l -> l.startsWith("GROWTH ")).findFirst().orElseThrow(
                () -> new AssertionError("no GROWTH line: " + out)).substring("GROWTH ".length()).trim());
    }

    static ZooModel<String, float[]> load(Path img, String query) throws Exception {
        return Criteria.builder()
                .setTypes(String.class, float[].class)
                .optModelUrls("daxfs://" + img.toAbsolutePath() + "?model=minilm" + query)
                .optTranslator(translator)
                .build().loadModel();
    }

    /** Every prepacked blob of the image's form: absolute [offset, length] in the image file. */
    static List<long[]> prepackedBlobs(Path img) throws Exception {
        List<long[]> out = new ArrayList<>();
        try (DaxImage di = DaxImage.open(img)) {
            OrtImageForm form = OrtImageForm.list(di, "minilm").get(0);
            ModelProto m = ModelProto.parseFrom(form.graph(di));
            for (TensorProto t : m.getGraph().getInitializerList()) {
                for (StringStringEntryProto e : t.getExternalDataList()) {
                    if (e.getKey().startsWith("prepacked")) {
                        String[] parts = e.getValue().split("\\|");
                        for (int i = 1; i < parts.length; i++) {
                            String[] f = parts[i].split(";");
                            out.add(new long[] {Long.parseLong(f[0]), Long.parseLong(f[1])});
                        }
                    }
                }
            }
            // The graph's offsets point inside the image's data file, where ORT wrote the blobs.
            long dataStart = di.absoluteOffset(form.data(di).dataOffset());
            for (long[] b : out) {
                assertTrue(b[0] >= dataStart && b[0] + b[1] <= dataStart + form.data(di).size(), "blob outside model.data");
            }
        }
        return out;
    }

    private static final Pattern MAPS = Pattern.compile("^([0-9a-f]+)-([0-9a-f]+) \\S+ ([0-9a-f]+) \\S+ \\d+ +(.*)$");

    /** File ranges [offset, end) of this process's mappings of {@code file}. */
    static List<long[]> mappingsOf(Path file) throws Exception {
        String real = file.toRealPath().toString();
        List<long[]> out = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            Matcher m = MAPS.matcher(line);
            if (m.matches() && m.group(4).equals(real)) {
                long len = Long.parseUnsignedLong(m.group(2), 16) - Long.parseUnsignedLong(m.group(1), 16);
                long off = Long.parseUnsignedLong(m.group(3), 16);
                out.add(new long[] {off, off + len});
            }
        }
        return out;
    }

    @Test
    void blobsAreMappedFromTheImageAndAnswersEqualPlainOrt() throws Exception {
        List<long[]> blobs = prepackedBlobs(image);
        long blobBytes = blobs.stream().mapToLong(b -> b[1]).sum();
        assertTrue(blobs.size() >= 30 && blobBytes > 20_000_000, blobs.size() + " blobs, " + blobBytes + " bytes");

        long formGrowth = growthInFreshJvm(image, "");
        long loadGrowth = growthInFreshJvm(image, "&ortprepacked=load");
        ZooModel<String, float[]> fromImage = load(image, "");
        List<long[]> maps = mappingsOf(image);
        ZooModel<String, float[]> fromFile = MiniLmDemo.fromFile(modelDir, true, translator);
        try (fromImage; fromFile;
             Predictor<String, float[]> p1 = fromImage.newPredictor();
             Predictor<String, float[]> p2 = fromFile.newPredictor()) {
            for (String s : MiniLmDemo.SENTENCES) {
                assertArrayEquals(p2.predict(s), p1.predict(s), "embedding of '" + s + "' from the image's ORT form");
            }
        }
        for (long[] b : blobs) {
            assertTrue(maps.stream().anyMatch(m -> m[0] <= b[0] && b[0] + b[1] <= m[1]),
                    "prepacked blob at image offset " + b[0] + " (+" + b[1] + ") lies in no mapping of the image file");
        }
        System.out.printf("%d blobs, %d kB; private memory growth: ORT form from the image %d kB, prepacked at load %d kB%n",
                blobs.size(), blobBytes / 1024, formGrowth / 1024, loadGrowth / 1024);
        assertTrue(loadGrowth > blobBytes * 8 / 10, "prepacking at load should copy the blobs, grew " + loadGrowth);
        assertTrue(formGrowth < blobBytes / 3, "the image's form grew private memory by " + formGrowth + " bytes; blobs are " + blobBytes);
        assertEquals(0, SharedImages.openCount(), "closing the models unmaps the image");
    }

    /**
     * The form route reads the image without mapping it (DaxFileReader: manifest, key, graph, side files): the load
     * makes no mapping of its own, and answers exactly as a load that maps and validates the image (asked for with
     * checksums, which need the tensors) and as plain ORT over the .onnx file.
     */
    @Test
    void theFormRouteMakesNoMappingOfItsOwnAndAnswersAsTheMappedRoute() throws Exception {
        long before = SharedImages.mappingsMade(image);
        ZooModel<String, float[]> light = load(image, "");
        assertEquals(before, SharedImages.mappingsMade(image), "the form route mapped the image");
        ZooModel<String, float[]> mapped = load(image, "&verify=eager");
        assertEquals(before + 1, SharedImages.mappingsMade(image), "checksums need the tensors: the image is mapped and validated");
        // The side files the engine sees: the image's files/, byte for byte, read without the mapping.
        try (DaxImage di = DaxImage.open(image)) {
            List<String> names = new ArrayList<>();
            for (var e : di.list("minilm/files")) {
                names.add(e.name());
                assertArrayEquals(di.content(e.inode()).toArray(ValueLayout.JAVA_BYTE), Files.readAllBytes(light.getModelPath().resolve(e.name())),
                        "side file " + e.name());
            }
            assertFalse(names.isEmpty(), "the image has side files");
            try (var listed = Files.list(light.getModelPath())) {
                assertEquals(names.stream().sorted().toList(), listed.map(f -> f.getFileName().toString()).sorted().toList());
            }
        }
        ZooModel<String, float[]> fromFile = MiniLmDemo.fromFile(modelDir, true, translator);
        try (light; mapped; fromFile;
             Predictor<String, float[]> p1 = light.newPredictor();
             Predictor<String, float[]> p2 = mapped.newPredictor();
             Predictor<String, float[]> p3 = fromFile.newPredictor()) {
            for (String s : MiniLmDemo.SENTENCES) {
                float[] e = p1.predict(s);
                assertArrayEquals(p2.predict(s), e, "embedding of '" + s + "': form route read vs mapped");
                assertArrayEquals(p3.predict(s), e, "embedding of '" + s + "': form route vs the .onnx file");
            }
        }
        assertEquals(before + 1, SharedImages.mappingsMade(image), "answering mapped nothing more");
    }

    /**
     * ONNX Runtime's engine starts on a thread of its own (OrtEngineHeadStart); when it cannot start, the load fails
     * with what the start threw, exactly as when the loading thread starts it itself: the same error and cause, no
     * hang and no NoClassDefFoundError from a second try at ORT's classes. Fresh JVMs whose ORT finds no native library.
     */
    @Test
    void anOrtEngineThatCannotStartFailsTheLoadAlikeWithAndWithoutTheHeadStart() throws Exception {
        String ahead = engineFailure(true);
        String serial = engineFailure(false);
        assertTrue(ahead.startsWith("THROWN "), ahead);
        assertFalse(ahead.contains("NoClassDefFoundError"), ahead);
        assertEquals(serial, ahead, "the head start changed what a failed engine start throws");
    }

    private static String engineFailure(boolean headStart) throws Exception {
        String javaBin = ProcessHandle.current().info().command().orElseThrow();
        Process p = new ProcessBuilder(javaBin, "--enable-native-access=ALL-UNNAMED", "-Dai.djl.offline=true",
                "-Dai.djl.onnx.disable_alternative=true", "-Donnxruntime.native.path=" + tmp.resolve("no-native-library"),
                "-Ddaxload.ortHeadStart=" + headStart, "-cp", System.getProperty("java.class.path"),
                OrtEngineFailureProbe.class.getName(), image.toAbsolutePath().toString())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        if (!p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("the load hung (head start " + headStart + ")");
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return out.lines().filter(l -> l.startsWith("THROWN ") || l.startsWith("LOADED")).findFirst()
                .orElseThrow(() -> new AssertionError("no THROWN line (head start " + headStart + "): " + out));
    }

    /**
     * ONNX Runtime's native library comes from one copy per host (OrtNativeLibraries): the first process
     * extracts it into DJL's engine cache, the next maps that same file without writing it again, and
     * with the cache switched off ORT inflates its own temporary copy as before; the answers are the same
     * bits every way. Fresh JVMs, since this one has ORT loaded already.
     */
    @Test
    void ortsNativeLibraryIsExtractedOncePerHostAndAnswersAreUnchanged() throws Exception {
        Path cache = tmp.resolve("engine-cache");
        String[] first = nativeProbe(cache, true);
        Path lib = Path.of(first[1]);
        assertTrue(lib.startsWith(cache.resolve("onnxruntime")) && Files.isRegularFile(lib), "ORT's library came from " + first[1]);
        long written = Files.getLastModifiedTime(lib).toMillis();
        Object inode = Files.getAttribute(lib, "unix:ino");
        String[] second = nativeProbe(cache, true);
        assertEquals(first[1], second[1], "the second process maps the same copy");
        assertEquals(inode, Files.getAttribute(lib, "unix:ino"));
        assertEquals(written, Files.getLastModifiedTime(lib).toMillis(), "and does not write it again");
        String[] off = nativeProbe(cache, false);
        assertFalse(off[1].startsWith(cache.toString()), "-Ddaxload.ortNativeCache=false leaves ORT to its own copy: " + off[1]);
        assertEquals(off[0], first[0], "same answer with ORT's own copy of its library");
        assertEquals(off[0], second[0]);
    }

    /** {output hash, library file} of {@link OrtNativeLibraryProbe} run on the form image in a fresh JVM. */
    static String[] nativeProbe(Path cache, boolean useCache) throws Exception {
        String javaBin = ProcessHandle.current().info().command().orElseThrow();
        Process p = new ProcessBuilder(javaBin, "--enable-native-access=ALL-UNNAMED", "-Dai.djl.offline=true",
                "-Dai.djl.onnx.disable_alternative=true", "-DENGINE_CACHE_DIR=" + cache, "-Ddaxload.ortNativeCache=" + useCache,
                "-cp", System.getProperty("java.class.path"), OrtNativeLibraryProbe.class.getName(),
                "daxfs://" + image.toAbsolutePath() + "?model=minilm")
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), "native library probe: " + out);
        return new String[] {line(out, "OUTPUT "), line(out, "LIBRARY ")};
    }

    private static String line(String out, String prefix) {
        return out.lines().filter(l -> l.startsWith(prefix)).findFirst().orElseThrow(() -> new AssertionError("no " + prefix + "line: " + out))
                .substring(prefix.length()).trim();
    }

    /**
     * Weights once on disk: every initializer of the form whose name is a tensor of the model points at
     * that tensor's own bytes in the image, and the form's data file holds only the prepacked blobs and
     * what ORT made anew. Returns the bytes read from the tensors.
     */
    static long assertWeightsStoredOnce(Path img) throws Exception {
        try (DaxImage di = DaxImage.open(img)) {
            OrtImageForm form = OrtImageForm.list(di, "minilm").get(0);
            var tensors = dev.daxload.manifest.ModelCatalog.load(di, "minilm").tensorsByName();
            ModelProto m = ModelProto.parseFrom(form.graph(di));
            long shared = 0;
            long own = 0;
            long blobs = prepackedBlobs(img).stream().mapToLong(b -> b[1]).sum();
            int sharedCount = 0;
            for (TensorProto t : m.getGraph().getInitializerList()) {
                if (t.getDataLocation() != 1) { // EXTERNAL
                    continue;
                }
                long offset = -1;
                long length = -1;
                for (StringStringEntryProto e : t.getExternalDataList()) {
                    switch (e.getKey()) {
                        case "offset" -> offset = Long.parseLong(e.getValue());
                        case "length" -> length = Long.parseLong(e.getValue());
                        default -> {}
                    }
                }
                var entry = tensors.get(t.getName());
                if (entry != null && entry.offset() == offset) {
                    assertEquals(entry.length(), length, "initializer '" + t.getName() + "' reads its tensor's bytes, all of them");
                    shared += length;
                    sharedCount++;
                } else {
                    long dataStart = di.absoluteOffset(form.data(di).dataOffset());
                    assertTrue(offset >= dataStart && offset + length <= dataStart + form.data(di).size(),
                            "initializer '" + t.getName() + "' points neither at its tensor nor into the form's data file");
                    own += length;
                }
            }
            long weights = tensors.values().stream().mapToLong(e -> e.length()).sum();
            System.out.printf("%s: %d initializers (%d kB) read from the model's tensors (%d kB), %d kB of ORT's own, blobs %d kB, data file %d kB%n",
                    img.getFileName(), sharedCount, shared / 1024, weights / 1024, own / 1024, blobs / 1024, form.data(di).size() / 1024);
            assertTrue(shared > weights * 9 / 10, "only " + shared + " of " + weights + " bytes of weights are read from the tensors");
            // The data file: the blobs and ORT's own initializers, each kept at its offset within a page.
            long pages = 4096L * (m.getGraph().getInitializerCount() + prepackedBlobs(img).size());
            assertTrue(form.data(di).size() <= blobs + own + pages, "data file " + form.data(di).size() + " bytes for " + (blobs + own) + " bytes kept");
            return shared;
        }
    }

    /**
     * An image that is not a file but a memfd (say, one a supervisor filled and passed on), named by
     * {@code /proc/self/fd/N}: ORT maps the form's blobs from the memfd itself, and answers equal the file's.
     */
    @Test
    void anImageInAMemfdServesTheFormThroughProcSelfFd() throws Throwable {
        java.lang.foreign.Linker linker = java.lang.foreign.Linker.nativeLinker();
        var memfdCreate = linker.downcallHandle(linker.defaultLookup().find("memfd_create").orElseThrow(),
                java.lang.foreign.FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
        var close = linker.downcallHandle(linker.defaultLookup().find("close").orElseThrow(),
                java.lang.foreign.FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
        int fd;
        try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
            fd = (int) memfdCreate.invokeExact(a.allocateFrom("daxload-ort-test"), 0);
        }
        assertTrue(fd >= 0, "memfd_create");
        Path proc = Path.of("/proc/self/fd/" + fd);
        try {
            try (var in = java.nio.channels.FileChannel.open(image);
                 var out = java.nio.channels.FileChannel.open(proc, java.nio.file.StandardOpenOption.WRITE)) {
                assertEquals(in.size(), in.transferTo(0, in.size(), out));
            }
            List<long[]> blobs = prepackedBlobs(image); // the same bytes, the same offsets
            ZooModel<String, float[]> fromMemfd = load(proc, "");
            ZooModel<String, float[]> fromFile = MiniLmDemo.fromFile(modelDir, true, translator);
            try (fromMemfd; fromFile;
                 Predictor<String, float[]> p1 = fromMemfd.newPredictor();
                 Predictor<String, float[]> p2 = fromFile.newPredictor()) {
                List<long[]> maps = new ArrayList<>();
                for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
                    Matcher m = MAPS.matcher(line);
                    if (m.matches() && m.group(4).startsWith("/memfd:daxload-ort-test")) {
                        long off = Long.parseUnsignedLong(m.group(3), 16);
                        maps.add(new long[] {off, off + Long.parseUnsignedLong(m.group(2), 16) - Long.parseUnsignedLong(m.group(1), 16)});
                    }
                }
                for (long[] b : blobs) {
                    assertTrue(maps.stream().anyMatch(m -> m[0] <= b[0] && b[0] + b[1] <= m[1]), "blob at " + b[0] + " not mapped from the memfd");
                }
                for (String s : MiniLmDemo.SENTENCES) {
                    assertArrayEquals(p2.predict(s), p1.predict(s), "embedding of '" + s + "' from the memfd");
                }
            }
        } finally {
            int ignored = (int) close.invokeExact(fd);
        }
    }

    @Test
    void weightsAreStoredOnceInTheImage() throws Exception {
        assertWeightsStoredOnce(image);
    }

    @Test
    void anImagePrepackedAfterPackingAnswersLikeTheOnnxFile() throws Exception {
        Path plain = tmp.resolve("minilm-plain.daxfs");
        Path prepacked = tmp.resolve("minilm-prepacked.daxfs");
        daxload("pack-model", "-q", "--name", "minilm", modelDir.resolve("all-minilm-l6-v2.onnx").toString(), "-o", plain.toString());
        daxload("prepack", "-q", plain.toString(), "-o", prepacked.toString());
        assertWeightsStoredOnce(prepacked);
        List<long[]> blobs = prepackedBlobs(prepacked);
        ZooModel<String, float[]> fromImage = load(prepacked, "");
        ZooModel<String, float[]> fromFile = MiniLmDemo.fromFile(modelDir, true, translator);
        try (fromImage; fromFile;
             Predictor<String, float[]> p1 = fromImage.newPredictor();
             Predictor<String, float[]> p2 = fromFile.newPredictor()) {
            List<long[]> maps = mappingsOf(prepacked);
            for (long[] b : blobs) {
                assertTrue(maps.stream().anyMatch(m -> m[0] <= b[0] && b[0] + b[1] <= m[1]), "blob at " + b[0] + " not mapped from the image");
            }
            for (String s : MiniLmDemo.SENTENCES) {
                assertArrayEquals(p2.predict(s), p1.predict(s), "embedding of '" + s + "'");
            }
        }
    }

    @Test
    void aFormForOtherCpuFeaturesIsRefusedWithOneLogLineAndTheTensorsAnswer() throws Exception {
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        ZooModel<String, float[]> fromImage;
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            fromImage = load(foreignImage, "&prepacking=true");
        } finally {
            System.setErr(err);
        }
        String log = captured.toString(StandardCharsets.UTF_8);
        err.print(log);
        List<String> lines = log.lines().filter(l -> l.contains("ONNX Runtime's form")).toList();
        assertEquals(1, lines.size(), "one log line about the refused form: " + log);
        assertTrue(lines.get(0).contains("other CPU features") && lines.get(0).contains("z".repeat(foreignFeature.length()))
                && lines.get(0).contains(foreignFeature) && lines.get(0).contains("prepacked at load"), lines.get(0));
        ZooModel<String, float[]> fromFile = MiniLmDemo.fromFile(modelDir, true, translator);
        try (fromImage; fromFile;
             Predictor<String, float[]> p1 = fromImage.newPredictor();
             Predictor<String, float[]> p2 = fromFile.newPredictor()) {
            // ORT maps nothing of the image itself: only daxload's one mapping from offset 0.
            assertTrue(mappingsOf(foreignImage).stream().allMatch(m -> m[0] == 0), "ORT mapped the refused form");
            for (String s : MiniLmDemo.SENTENCES) {
                assertArrayEquals(p2.predict(s), p1.predict(s), "embedding of '" + s + "'");
            }
        }
    }
    /**
     * A form made by another ORT version: the CPU part of the key matches (so the plan is prepared ahead,
     * graph written), and the version, compared once ORT's engine is up, refuses it with one log line.
     */
    @Test
    void aFormFromAnotherOrtVersionIsRefusedOnceTheEngineIsUp() throws Exception {
        Path other = tmp.resolve("minilm-other-ort.daxfs");
        Files.copy(image, other);
        String running;
        try (DaxImage di = DaxImage.open(other)) {
            OrtImageForm form = OrtImageForm.list(di, "minilm").get(0);
            running = form.key().ortVersion();
            var inode = di.resolve(form.dir() + "/" + OrtImageForm.KEY_FILE);
            String json = new String(di.content(inode).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            String fake = "9".repeat(running.length());
            String patched = json.replace("\"ort\":\"" + running + "\"", "\"ort\":\"" + fake + "\"");
            assertNotEquals(json, patched);
            try (var ch = java.nio.channels.FileChannel.open(other, java.nio.file.StandardOpenOption.WRITE)) {
                ch.write(java.nio.ByteBuffer.wrap(patched.getBytes(StandardCharsets.UTF_8)), di.absoluteOffset(inode.dataOffset()));
            }
        }
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        ZooModel<String, float[]> fromImage;
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            fromImage = load(other, "&prepacking=true"); // prepacked like the .onnx file's session: equal answers, bit for bit
        } finally {
            System.setErr(err);
        }
        String log = captured.toString(StandardCharsets.UTF_8);
        err.print(log);
        List<String> lines = log.lines().filter(l -> l.contains("ONNX Runtime's form")).toList();
        assertEquals(1, lines.size(), "one log line about the refused form: " + log);
        assertTrue(lines.get(0).contains("made by ONNX Runtime " + "9".repeat(running.length()) + ", running " + running)
                && lines.get(0).contains("prepacked at load"), lines.get(0));
        ZooModel<String, float[]> fromFile = MiniLmDemo.fromFile(modelDir, true, translator);
        try (fromImage; fromFile;
             Predictor<String, float[]> p1 = fromImage.newPredictor();
             Predictor<String, float[]> p2 = fromFile.newPredictor()) {
            assertTrue(mappingsOf(other).stream().allMatch(m -> m[0] == 0), "ORT mapped the refused form");
            for (String s : MiniLmDemo.SENTENCES) {
                assertArrayEquals(p2.predict(s), p1.predict(s), "embedding of '" + s + "'");
            }
        }
    }
}
