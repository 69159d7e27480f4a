package dev.daxload.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.daxload.cli.DaxloadCliTest.Run;
import dev.daxload.image.DaxImage;
import dev.daxload.manifest.ModelCatalog;
import dev.daxload.manifest.ModelManifest;
import dev.daxload.manifest.TensorEntry;
import dev.daxload.packager.source.Fixtures;
import dev.daxload.registry.RegistryClient;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code daxload pull --pack} against a real registry (CNCF Distribution, {@link LocalRegistry}): the test pushes
 * artifacts shaped as modctl pushes them (ModelPack manifest and config, one layer per file, the file's path in
 * {@code org.cncf.model.filepath}, weights raw or as a one-file tar, config.json as a weight-config layer), pulls them
 * with {@code --pack}, and compares with {@code pack-model} of the same files and with the reference readers' values
 * in testdata/expected.json.
 */
class PullPackCliTest {
    static final Path TESTDATA = PackModelCliTest.TESTDATA;
    static final String WEIGHT = "application/vnd.cncf.model.weight.v1.";
    static final String CONFIG = "application/vnd.cncf.model.weight.config.v1.";
    static final byte[] CONFIG_JSON = "{\"architectures\":[\"SileroVad\"],\"hidden_size\":64}\n".getBytes(StandardCharsets.UTF_8);

    @TempDir
    static Path dir;
    static LocalRegistry registry;
    static RegistryClient client;

    @BeforeAll
    static void start() throws Exception {
        LocalRegistry.assumeInstalled();
        registry = LocalRegistry.start(dir.resolve("registry"));
        client = new RegistryClient(registry.host(), registry.host(), new RegistryClient.Options(true, Optional.empty(), Optional.empty(), 0));
    }

    @AfterAll
    static void stop() throws Exception {
        if (registry != null) {
            registry.close();
        }
    }

    /** A file pushed as one layer: its media type's suffix ({@code raw}, {@code tar}, or anything else for refusals). */
    record Layer(String mediaTypePrefix, String suffix, String path, byte[] content) {
        byte[] blob() throws IOException {
            return suffix.equals("tar") ? tar(path, content) : content;
        }
    }

    /** One file in a tar, as modctl's default (uncompressed) tar layer holds it. */
    static byte[] tar(String name, byte[] content) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (TarArchiveOutputStream t = new TarArchiveOutputStream(out)) {
            t.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            TarArchiveEntry e = new TarArchiveEntry(name);
            e.setSize(content.length);
            e.setMode(0644);
            e.setModTime(0); // the same bytes, so the same digest, every time
            t.putArchiveEntry(e);
            t.write(content);
            t.closeArchiveEntry();
        }
        return out.toByteArray();
    }

    /** Pushes a ModelPack artifact of {@code layers} as modctl does; returns the weight layer's digest. */
    static String push(String repo, String format, List<Layer> layers) throws Exception {
        JsonArray descriptors = new JsonArray();
        JsonArray diffIds = new JsonArray();
        String weightDigest = null;
        for (Layer l : layers) {
            byte[] blob = l.blob();
            String digest = RegistryCliTest.digest(blob);
            client.uploadBlob(repo, blob);
            JsonObject d = new JsonObject();
            d.addProperty("mediaType", l.mediaTypePrefix() + l.suffix());
            d.addProperty("digest", digest);
            d.addProperty("size", blob.length);
            JsonObject ann = new JsonObject();
            ann.addProperty("org.cncf.model.filepath", l.path());
            d.add("annotations", ann);
            descriptors.add(d);
            diffIds.add(digest);
            if (l.mediaTypePrefix().equals(WEIGHT)) {
                weightDigest = digest;
            }
        }
        JsonObject config = new JsonObject();
        JsonObject descriptor = new JsonObject();
        descriptor.addProperty("name", repo);
        config.add("descriptor", descriptor);
        JsonObject cfg = new JsonObject();
        cfg.addProperty("format", format);
        config.add("config", cfg);
        JsonObject modelfs = new JsonObject();
        modelfs.addProperty("type", "layers");
        modelfs.add("diffIds", diffIds);
        config.add("modelfs", modelfs);
        putManifest(repo, "application/vnd.cncf.model.config.v1+json", config, "application/vnd.cncf.model.manifest.v1+json", descriptors);
        return weightDigest;
    }

    /** Uploads {@code config} and tags an OCI image manifest of it and {@code layers} as {@code v1}. */
    static void putManifest(String repo, String configType, JsonObject config, String artifactType, JsonArray layers) throws Exception {
        byte[] configBytes = config.toString().getBytes(StandardCharsets.UTF_8);
        client.uploadBlob(repo, configBytes);
        JsonObject c = new JsonObject();
        c.addProperty("mediaType", configType);
        c.addProperty("digest", RegistryCliTest.digest(configBytes));
        c.addProperty("size", configBytes.length);
        JsonObject m = new JsonObject();
        m.addProperty("schemaVersion", 2);
        m.addProperty("mediaType", "application/vnd.oci.image.manifest.v1+json");
        if (artifactType != null) {
            m.addProperty("artifactType", artifactType);
        }
        m.add("config", c);
        m.add("layers", layers);
        client.putManifest(repo, "v1", m.toString().getBytes(StandardCharsets.UTF_8), "application/vnd.oci.image.manifest.v1+json");
    }

    static Run pullPack(String repo, Path out) {
        return DaxloadCliTest.run("pull", "--pack", "-q", "--plain-http", "--name", "m", registry.host() + "/" + repo + ":v1",
                "-o", out.toString());
    }

    static JsonObject expected(String fixture) throws IOException {
        return JsonParser.parseString(Files.readString(TESTDATA.resolve("expected.json"), StandardCharsets.UTF_8))
                .getAsJsonObject().getAsJsonObject("files").getAsJsonObject(fixture);
    }

    @ParameterizedTest(name = "{0} as {1}")
    @CsvSource({"edge-cases.safetensors,raw", "edge-cases.safetensors,tar", "silero-vad.safetensors,raw", "silero-vad.safetensors,tar",
        "edge-cases.gguf,raw", "edge-cases.gguf,tar", "silero-vad.gguf,raw", "silero-vad.gguf,tar"})
    void anArtifactPacksToTheImagePackModelGivesAndEveryTensorIsTheReferences(String fixture, String form) throws Exception {
        byte[] weights = Files.readAllBytes(TESTDATA.resolve(fixture));
        String repo = "pack/" + fixture.replace('.', '-') + "-" + form;
        String format = fixture.endsWith(".gguf") ? "gguf" : "safetensors";
        String digest = push(repo, format, List.of(new Layer(WEIGHT, form, fixture, weights), new Layer(CONFIG, form, "config.json", CONFIG_JSON)));
        Path out = dir.resolve(repo.replace('/', '-') + ".daxfs");
        long before = servedSettled(digest);
        Run r = pullPack(repo, out);
        long served = servedSettled(digest) - before; // blobs are shared by digest: other tests' pulls count too
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("@sha256:"), "prints the pinned reference: " + r.out());

        // the same files in a directory, packed by pack-model: the same image, byte for byte
        Path src = Files.createDirectories(dir.resolve("src-" + repo.replace('/', '-')));
        Files.write(src.resolve(fixture), weights);
        Files.write(src.resolve("config.json"), CONFIG_JSON);
        Path ref = dir.resolve(repo.replace('/', '-') + "-pack-model.daxfs");
        Run p = DaxloadCliTest.run("pack-model", "-q", "--name", "m", src.toString(), "-o", ref.toString());
        assertEquals(0, p.code(), p.err());
        assertEquals(-1, Files.mismatch(ref, out), "pull --pack and pack-model give the same image");

        // through the loader: every tensor what the reference reader read
        try (DaxImage img = DaxImage.open(out)) {
            ModelManifest m = ModelCatalog.load(img, "m");
            assertTensorsAreTheReferences(img, m, fixture);
            assertTrue(m.files().contains("files/config.json"), "config.json is a side file: " + m.files());
            assertArrayEquals(CONFIG_JSON, img.content("m/files/config.json").toArray(ValueLayout.JAVA_BYTE));
        }

        // the weight layer went over the wire once, plus the header prefix(es) read to plan the image
        long size = form.equals("tar") ? tar(fixture, weights).length : weights.length;
        assertTrue(served >= size && served <= size + Math.min(size, 64 << 10) * 2,
                "the registry served " + served + " bytes of a " + size + "-byte layer");
    }

    /** Every tensor of {@code fixture} in testdata/expected.json is in {@code m}, its length and bytes the reference reader's. */
    static void assertTensorsAreTheReferences(DaxImage img, ModelManifest m, String fixture) throws IOException {
        JsonArray tensors = expected(fixture).getAsJsonArray("tensors");
        assertEquals(tensors.size(), m.tensors().size(), "tensor count");
        for (JsonElement x : tensors) {
            JsonObject t = x.getAsJsonObject();
            String name = t.get("name").getAsString();
            TensorEntry e = m.tensor(name).orElseThrow(() -> new AssertionError("no tensor '" + name + "' in the image"));
            assertEquals(t.get("nbytes").getAsLong(), e.length(), name + " length");
            byte[] bytes = img.segment().asSlice(e.offset(), e.length()).toArray(ValueLayout.JAVA_BYTE);
            assertEquals(Fixtures.imageSha256(t).orElseThrow(), Fixtures.sha256(bytes), name + " bytes in the image");
        }
    }

    /** Bytes served for GETs of {@code digest} once the registry has logged the answers in flight. */
    static long servedSettled(String digest) throws Exception {
        long last = registry.bytesServed("GET", digest);
        int stable = 0;
        for (int i = 0; i < 40 && stable < 4; i++) {
            Thread.sleep(50);
            long now = registry.bytesServed("GET", digest);
            stable = now == last ? stable + 1 : 0;
            last = now;
        }
        return last;
    }

    @Test
    void aFlippedByteInAStoredLayerIsNamedByDigestAndNothingIsWritten() throws Exception {
        byte[] weights = Files.readAllBytes(TESTDATA.resolve("silero-vad.safetensors"));
        // a blob of its own (blobs are shared by digest across repositories): the last tensor byte changed
        weights[weights.length - 1] ^= 0x5a;
        String digest = push("flip/silero", "safetensors", List.of(new Layer(WEIGHT, "raw", "model.safetensors", weights)));
        registry.corruptBlob(digest);
        Path outDir = Files.createDirectories(dir.resolve("flip-out"));
        Path out = outDir.resolve("flipped.daxfs");
        Run r = pullPack("flip/silero", out);
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains(digest) && r.err().contains("hash to"), r.err());
        assertFalse(Files.exists(out), "nothing at the target");
        try (Stream<Path> s = Files.list(outDir)) {
            assertEquals(List.of(), s.toList(), "nothing beside it");
        }
    }

    @Test
    void aCompressedLayerIsRefusedNamingItsMediaType() throws Exception {
        byte[] weights = Files.readAllBytes(TESTDATA.resolve("edge-cases.safetensors"));
        push("gz/edge", "safetensors", List.of(new Layer(WEIGHT, "tar+gzip", "model.safetensors", weights)));
        Path out = dir.resolve("gz.daxfs");
        Run r = pullPack("gz/edge", out);
        assertEquals(1, r.code());
        assertTrue(r.err().contains("application/vnd.cncf.model.weight.v1.tar+gzip") && r.err().contains("gz/edge"), r.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void aLayerThatIsNotWeightsDaxloadReadsIsNamedByDigestAndNothingIsWritten() throws Exception {
        byte[] junk = new byte[5000];
        java.util.Arrays.fill(junk, (byte) 7);
        String digest = push("junk/w", "safetensors", List.of(new Layer(WEIGHT, "raw", "model.safetensors", junk)));
        Path out = dir.resolve("junk.daxfs");
        Run r = pullPack("junk/w", out);
        assertEquals(1, r.code());
        assertTrue(r.err().contains(digest) && r.err().contains("model.safetensors"), r.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void anArtifactThatIsNotModelPackIsRefused() throws Exception {
        byte[] blob = "x".getBytes(StandardCharsets.UTF_8);
        client.uploadBlob("other/x", blob);
        String manifest = """
                {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example",
                 "config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":1},
                 "layers":[{"mediaType":"application/vnd.example.layer","digest":"%s","size":1}]}"""
                .formatted(RegistryCliTest.digest(blob), RegistryCliTest.digest(blob));
        client.putManifest("other/x", "v1", manifest.getBytes(StandardCharsets.UTF_8), "application/vnd.oci.image.manifest.v1+json");
        Path out = dir.resolve("other.daxfs");
        Run r = pullPack("other/x", out);
        assertEquals(1, r.code());
        assertTrue(r.err().contains("not a ModelPack artifact") && r.err().contains("application/vnd.example"), r.err());
        assertFalse(Files.exists(out));
    }

    /**
     * Pushes a Docker Model Runner artifact as {@code docker model package} writes one (its {@code types.go}): config
     * {@code application/vnd.docker.ai.model.config.v0.1+json}, layers of the given media types, no path annotations.
     */
    static void pushDockerModel(String repo, List<java.util.Map.Entry<String, byte[]>> layers) throws Exception {
        JsonArray descriptors = new JsonArray();
        JsonArray diffIds = new JsonArray();
        for (var l : layers) {
            String digest = RegistryCliTest.digest(l.getValue());
            client.uploadBlob(repo, l.getValue());
            JsonObject d = new JsonObject();
            d.addProperty("mediaType", l.getKey());
            d.addProperty("digest", digest);
            d.addProperty("size", l.getValue().length);
            descriptors.add(d);
            diffIds.add(digest);
        }
        JsonObject config = JsonParser.parseString("{\"config\":{\"format\":\"gguf\"},\"descriptor\":{}}").getAsJsonObject();
        JsonObject rootfs = new JsonObject();
        rootfs.addProperty("type", "rootfs");
        rootfs.add("diff_ids", diffIds);
        config.add("rootfs", rootfs);
        putManifest(repo, "application/vnd.docker.ai.model.config.v0.1+json", config, null, descriptors);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"silero-vad.gguf,application/vnd.docker.ai.gguf.v3", "silero-vad.safetensors,application/vnd.docker.ai.safetensors"})
    void aDockerModelRunnerArtifactPacksWithItsLicenseAndConfigArchive(String fixture, String type) throws Exception {
        byte[] weights = Files.readAllBytes(TESTDATA.resolve(fixture));
        byte[] license = "Apache-2.0\n".getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream configs = new ByteArrayOutputStream();
        try (TarArchiveOutputStream t = new TarArchiveOutputStream(configs)) {
            for (String name : List.of("config.json", "tokenizer/tokenizer.json", ".hidden")) {
                TarArchiveEntry e = new TarArchiveEntry(name);
                e.setSize(CONFIG_JSON.length);
                e.setModTime(0);
                t.putArchiveEntry(e);
                t.write(CONFIG_JSON);
                t.closeArchiveEntry();
            }
        }
        String repo = "dmr/" + fixture.replace('.', '-');
        pushDockerModel(repo, List.of(java.util.Map.entry(type, weights), java.util.Map.entry("application/vnd.docker.ai.license", license),
                java.util.Map.entry("application/vnd.docker.ai.vllm.config.tar", configs.toByteArray())));
        Path out = dir.resolve(repo.replace('/', '-') + ".daxfs");
        Run r = pullPack(repo, out);
        assertEquals(0, r.code(), r.err());
        try (DaxImage img = DaxImage.open(out)) {
            ModelManifest m = ModelCatalog.load(img, "m");
            assertTensorsAreTheReferences(img, m, fixture);
            assertTrue(m.files().containsAll(List.of("files/LICENSE", "files/config.json", "files/tokenizer/tokenizer.json")), m.files().toString());
            assertFalse(m.files().contains("files/.hidden"), "hidden files are skipped as pack-model skips them: " + m.files());
            assertArrayEquals(license, img.content("m/files/LICENSE").toArray(ValueLayout.JAVA_BYTE));
        }
        // a layer type from Docker Model Runner that pull --pack does not take is named
        pushDockerModel("dmr/lora", List.of(java.util.Map.entry("application/vnd.docker.ai.gguf.v3.lora", weights)));
        Path lora = dir.resolve("dmr-lora.daxfs");
        Run refused = pullPack("dmr/lora", lora);
        assertEquals(1, refused.code());
        assertTrue(refused.err().contains("application/vnd.docker.ai.gguf.v3.lora"), refused.err());
        assertFalse(Files.exists(lora));
    }

    /** A safetensors file with one F32 tensor {@code name} of {@code count} values and a {@code padBytes}-long metadata string. */
    static byte[] safetensors(String name, int count, int padBytes, float base) {
        String header = "{\"__metadata__\":{\"pad\":\"" + "p".repeat(padBytes) + "\"},\"" + name
                + "\":{\"dtype\":\"F32\",\"shape\":[" + count + "],\"data_offsets\":[0," + 4 * count + "]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 + h.length + 4 * count).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        for (int i = 0; i < count; i++) {
            b.putFloat(base + i);
        }
        return b.array();
    }

    @Test
    void aHeaderLongerThanTheFirstRangeIsReadByLongerRangesAndTwoWeightLayersGoIntoOneModel() throws Exception {
        // 300 KB of metadata: the first 64 KiB range ends inside the header, so a longer range is asked for
        byte[] a = safetensors("encoder.weight", 70_000, 300_000, 1.5f);
        byte[] b = safetensors("decoder.weight", 1000, 10, -7f);
        push("big/header", "safetensors", List.of(new Layer(WEIGHT, "tar", "model-00001-of-00002.safetensors", a),
                new Layer(WEIGHT, "raw", "model-00002-of-00002.safetensors", b), new Layer(CONFIG, "raw", "config.json", CONFIG_JSON)));
        Path out = dir.resolve("big-header.daxfs");
        Run r = pullPack("big/header", out);
        assertEquals(0, r.code(), r.err());
        Path src = Files.createDirectories(dir.resolve("src-big-header"));
        Files.write(src.resolve("model-00001-of-00002.safetensors"), a);
        Files.write(src.resolve("model-00002-of-00002.safetensors"), b);
        Files.write(src.resolve("config.json"), CONFIG_JSON);
        Path ref = dir.resolve("big-header-pack-model.daxfs");
        Run p = DaxloadCliTest.run("pack-model", "-q", "--name", "m", src.toString(), "-o", ref.toString());
        assertEquals(0, p.code(), p.err());
        assertEquals(-1, Files.mismatch(ref, out), "pull --pack and pack-model give the same image");
        try (DaxImage img = DaxImage.open(out)) {
            ModelManifest m = ModelCatalog.load(img, "m");
            TensorEntry enc = m.tensor("encoder.weight").orElseThrow();
            var seg = img.segment().asSlice(enc.offset(), enc.length());
            assertEquals(1.5f, seg.get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0));
            assertEquals(1.5f + 69_999, seg.get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 4L * 69_999));
            TensorEntry dec = m.tensor("decoder.weight").orElseThrow();
            assertEquals(-7f + 999, img.segment().get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN),
                    dec.offset() + 4L * 999));
        }
        byte[] first = tar("model-00001-of-00002.safetensors", a);
        long size = first.length;
        String digest = RegistryCliTest.digest(first);
        long served = registry.bytesServed("GET", digest);
        long headerEnd = 512 + 8 + java.nio.ByteBuffer.wrap(a, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(size + (64 << 10) + headerEnd, served,
                "a 64 KiB range, the range its length names, then the layer once: " + served + " bytes of a " + size + "-byte layer");
    }

    @Test
    void aFilePathOutsideTheModelIsRefusedAndAHiddenFileIsSkipped() throws Exception {
        byte[] weights = Files.readAllBytes(TESTDATA.resolve("edge-cases.safetensors"));
        push("path/escape", "safetensors", List.of(new Layer(WEIGHT, "raw", "model.safetensors", weights),
                new Layer(CONFIG, "raw", "../../escape.json", CONFIG_JSON)));
        Path out = dir.resolve("escape.daxfs");
        Run r = pullPack("path/escape", out);
        assertEquals(1, r.code());
        assertTrue(r.err().contains("'../../escape.json' is not a relative path inside the model"), r.err());
        assertFalse(Files.exists(out));

        push("path/hidden", "safetensors", List.of(new Layer(WEIGHT, "raw", "model.safetensors", weights),
                new Layer("application/vnd.cncf.model.doc.v1.", "raw", ".gitattributes", CONFIG_JSON)));
        Path hidden = dir.resolve("hidden.daxfs");
        Run h = pullPack("path/hidden", hidden);
        assertEquals(0, h.code(), h.err());
        try (DaxImage img = DaxImage.open(hidden)) {
            assertEquals(List.of(), ModelCatalog.load(img, "m").files(), "no side files: the hidden one is skipped, as pack-model skips it");
        }
    }

    @Test
    void aShardedSafetensorsModelWithItsIndexPacksAsPackModelPacksTheDirectory() throws Exception {
        Path sharded = TESTDATA.resolve("sharded");
        List<Layer> layers = new java.util.ArrayList<>();
        for (String f : List.of("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")) {
            layers.add(new Layer(WEIGHT, "tar", f, Files.readAllBytes(sharded.resolve(f))));
        }
        layers.add(new Layer(CONFIG, "raw", "model.safetensors.index.json", Files.readAllBytes(sharded.resolve("model.safetensors.index.json"))));
        push("pack/sharded", "safetensors", layers);
        Path out = dir.resolve("sharded.daxfs");
        Run r = pullPack("pack/sharded", out);
        assertEquals(0, r.code(), r.err());
        Path ref = dir.resolve("sharded-pack-model.daxfs");
        Run p = DaxloadCliTest.run("pack-model", "-q", "--name", "m", sharded.toString(), "-o", ref.toString());
        assertEquals(0, p.code(), p.err());
        assertEquals(-1, Files.mismatch(ref, out), "pull --pack and pack-model give the same image");
        JsonObject index = expected("sharded/model.safetensors.index.json");
        try (DaxImage img = DaxImage.open(out)) {
            ModelManifest m = ModelCatalog.load(img, "m");
            assertEquals(index.getAsJsonObject("weight_map").size(), m.tensors().size(), "every tensor of the index");
        }
    }

    @Test
    void aManifestThatMisstatesALayersSizeIsRefusedNamingTheLayer() throws Exception {
        byte[] weights = Files.readAllBytes(TESTDATA.resolve("silero-vad.gguf"));
        String digest = RegistryCliTest.digest(weights);
        client.uploadBlob("size/gguf", weights);
        byte[] config = "{}".getBytes(StandardCharsets.UTF_8);
        client.uploadBlob("size/gguf", config);
        for (long declared : new long[] {weights.length - 1L, weights.length + 4096L}) {
            String manifest = """
                    {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
                     "artifactType":"application/vnd.cncf.model.manifest.v1+json",
                     "config":{"mediaType":"application/vnd.cncf.model.config.v1+json","digest":"%s","size":%d},
                     "layers":[{"mediaType":"application/vnd.cncf.model.weight.v1.raw","digest":"%s","size":%d,
                                "annotations":{"org.cncf.model.filepath":"model.gguf"}}]}"""
                    .formatted(RegistryCliTest.digest(config), config.length, digest, declared);
            client.putManifest("size/gguf", "v1", manifest.getBytes(StandardCharsets.UTF_8), "application/vnd.oci.image.manifest.v1+json");
            Path out = dir.resolve("size-" + declared + ".daxfs");
            Run r = pullPack("size/gguf", out);
            assertEquals(1, r.code(), "declared " + declared + " of " + weights.length);
            assertTrue(r.err().contains(digest), r.err());
            assertFalse(Files.exists(out));
        }
    }

    /** A GGUF v3 file: one string key of {@code padBytes} bytes and one F32 tensor "w" of 8 values. */
    static byte[] gguf(int padBytes) {
        byte[] key = "general.pad".getBytes(StandardCharsets.UTF_8);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(padBytes + 4096).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.put("GGUF".getBytes(StandardCharsets.US_ASCII)).putInt(3).putLong(1).putLong(1);
        b.putLong(key.length).put(key).putInt(8).putLong(padBytes).put("q".repeat(padBytes).getBytes(StandardCharsets.US_ASCII));
        b.putLong(1).put((byte) 'w').putInt(1).putLong(8).putInt(0).putLong(0);
        b.position((b.position() + 31) / 32 * 32);
        for (int i = 0; i < 8; i++) {
            b.putFloat(0.25f * i);
        }
        return java.util.Arrays.copyOf(b.array(), b.position());
    }

    @Test
    void aGgufHeaderLongerThanTheFirstRangeIsReadByLongerRanges() throws Exception {
        byte[] weights = gguf(200_000); // the first 64 KiB range ends inside the key/values, the next (256 KiB) holds them
        String digest = push("big/gguf", "gguf", List.of(new Layer(WEIGHT, "raw", "model.gguf", weights)));
        Path out = dir.resolve("big-gguf.daxfs");
        long before = servedSettled(digest);
        Run r = pullPack("big/gguf", out);
        long served = servedSettled(digest) - before;
        assertEquals(0, r.code(), r.err());
        Path src = Files.createDirectories(dir.resolve("src-big-gguf"));
        Files.write(src.resolve("model.gguf"), weights);
        Path ref = dir.resolve("big-gguf-pack-model.daxfs");
        Run p = DaxloadCliTest.run("pack-model", "-q", "--name", "m", src.toString(), "-o", ref.toString());
        assertEquals(0, p.code(), p.err());
        assertEquals(-1, Files.mismatch(ref, out), "pull --pack and pack-model give the same image");
        try (DaxImage img = DaxImage.open(out)) {
            TensorEntry w = ModelCatalog.load(img, "m").tensor("w").orElseThrow();
            assertEquals(0.25f * 7, img.segment().get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN),
                    w.offset() + 28));
        }
        assertEquals(weights.length + (64 << 10) + Math.min(weights.length, 256 << 10), served,
                "a 64 KiB range, a 256 KiB range, then the layer once");
    }
}
