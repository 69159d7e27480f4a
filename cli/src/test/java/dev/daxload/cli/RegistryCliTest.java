package dev.daxload.cli;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.daxload.cli.DaxloadCliTest.Run;
import dev.daxload.registry.ImagePull;
import dev.daxload.registry.ModelPackArtifact;
import dev.daxload.registry.RegistryClient;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code daxload push} and {@code pull} against a real registry (CNCF Distribution 2.8, Debian's docker-registry) on
 * loopback: round trip of a real model image, ModelPack media types as skopeo reads them, blobs not sent twice,
 * cross-repository mounts, and each way a pull can go wrong leaving nothing at the target.
 */
class RegistryCliTest {
    static final Path MODEL = PrepackCliTest.MODEL;

    @TempDir
    static Path dir;
    static Path image;
    static String imageDigest;
    static LocalRegistry registry;

    @BeforeAll
    static void start() throws Exception {
        LocalRegistry.assumeInstalled();
        assumeTrue(Files.isDirectory(MODEL), "all-MiniLM-L6-v2 was not unpacked (" + MODEL + "): run through Maven");
        System.setProperty("daxload.cache.dir", dir.resolve("cache").toString());
        image = dir.resolve("minilm.daxfs");
        Run r = DaxloadCliTest.run("pack-model", "-q", "--name", "minilm", MODEL.resolve("all-minilm-l6-v2.onnx").toString(),
                "--file", "tokenizer.json=" + MODEL.resolve("all-minilm-l6-v2-tokenizer.json"), "-o", image.toString());
        assertEquals(0, r.code(), r.err());
        imageDigest = sha256(image);
        registry = LocalRegistry.start(dir.resolve("registry"));
    }

    @AfterAll
    static void stop() throws Exception {
        if (registry != null) {
            registry.close();
        }
        System.clearProperty("daxload.cache.dir");
    }

    static String sha256(Path file) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (var in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 20];
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
        }
        return "sha256:" + HexFormat.of().formatHex(md.digest());
    }

    static Run push(String repoTag) {
        return DaxloadCliTest.run("push", "-q", "--plain-http", image.toString(), registry.host() + "/" + repoTag);
    }

    static Run pull(String host, String repoTag, Path out) {
        return DaxloadCliTest.run("pull", "-q", "--plain-http", "--retries", "2", host + "/" + repoTag, "-o", out.toString());
    }

    static Run pull(String host, String repoTag, Path out, int streams) {
        return DaxloadCliTest.run("pull", "-q", "--plain-http", "--retries", "2", "--streams", Integer.toString(streams),
                host + "/" + repoTag, "-o", out.toString());
    }

    /** Nothing at {@code target}, and no partial file or journal of one beside it either. */
    static void assertNothingLeft(Path target) throws IOException {
        assertFalse(Files.exists(target), target + " exists");
        try (Stream<Path> s = Files.list(target.getParent())) {
            List<Path> partials = s.filter(p -> p.getFileName().toString().contains(".daxload-pull")).toList();
            assertEquals(List.of(), partials);
        }
    }

    @Test
    void pushThenPullGivesTheSameBytesAsAModelPackArtifact() throws Exception {
        Run p = push("models/minilm:v1");
        assertEquals(0, p.code(), p.err());
        String pinned = p.out().strip();
        assertTrue(pinned.matches("127\\.0\\.0\\.1:\\d+/models/minilm:v1@sha256:[a-f0-9]{64}"), pinned);
        Path out = dir.resolve("pulled.daxfs");
        Run q = pull(registry.host(), "models/minilm:v1", out);
        assertEquals(0, q.code(), q.err());
        assertEquals(pinned, q.out().strip(), "pull prints the same pinned reference");
        assertEquals(-1, Files.mismatch(image, out));
        // pinned by digest: the same bytes again, into another file
        Path byDigest = dir.resolve("by-digest.daxfs");
        Run d = DaxloadCliTest.run("pull", "-q", "--plain-http", pinned.replace(":v1@", "@"), "-o", byDigest.toString());
        assertEquals(0, d.code(), d.err());
        assertEquals(-1, Files.mismatch(image, byDigest));

        RegistryClient client = new RegistryClient(registry.host(), registry.host(),
                new RegistryClient.Options(true, Optional.empty(), Optional.empty(), 0));
        JsonObject m = JsonParser.parseString(new String(client.getManifest("models/minilm", "v1").body(), StandardCharsets.UTF_8))
                .getAsJsonObject();
        assertEquals(ModelPackArtifact.ARTIFACT_TYPE, m.get("artifactType").getAsString());
        assertEquals(ModelPackArtifact.CONFIG_TYPE, m.getAsJsonObject("config").get("mediaType").getAsString());
        JsonObject layer = m.getAsJsonArray("layers").get(0).getAsJsonObject();
        assertEquals(ModelPackArtifact.LAYER_TYPE, layer.get("mediaType").getAsString());
        assertEquals(imageDigest, layer.get("digest").getAsString(), "the layer is the image file itself");
        assertEquals(Files.size(image), layer.get("size").getAsLong());

        Path skopeo = Path.of("/usr/bin/skopeo");
        assumeTrue(Files.isExecutable(skopeo), "the skopeo check needs Debian's skopeo (.ci/run installs it)");
        Process s = new ProcessBuilder(skopeo.toString(), "inspect", "--tls-verify=false", "--raw",
                "docker://" + registry.host() + "/models/minilm:v1").redirectErrorStream(true).start();
        String raw = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, s.waitFor(), raw);
        JsonObject sm = JsonParser.parseString(raw).getAsJsonObject();
        assertEquals(ModelPackArtifact.ARTIFACT_TYPE, sm.get("artifactType").getAsString());
        assertEquals(imageDigest, sm.getAsJsonArray("layers").get(0).getAsJsonObject().get("digest").getAsString());
    }

    /**
     * {@code pull -o} onto hugetlbfs, which takes no write(2) and so holds no partial file: the image is pulled into
     * the cache directory and placed from there through a mapping; the bytes are the pushed image's, nothing is left
     * in the cache's staging directory.
     */
    @Test
    void aPullOntoHugetlbfsIsPlacedThroughTheCache() throws Exception {
        long pages = (Files.size(image) + (2 << 20) - 1) / (2 << 20);
        Path huge = dev.daxload.packager.image.Hugetlbfs.directory(pages);
        try {
            Run p = push("models/minilm:huge");
            assertEquals(0, p.code(), p.err());
            Path out = huge.resolve("minilm.daxfs");
            Run q = pull(registry.host(), "models/minilm:huge", out);
            assertEquals(0, q.code(), q.err());
            assertEquals(p.out().strip(), q.out().strip(), "pull prints the same pinned reference");
            assertArrayEquals(Files.readAllBytes(image), dev.daxload.packager.image.Hugetlbfs.head(out, (int) Files.size(image)));
            try (Stream<Path> s = Files.list(dev.daxload.registry.OciImages.cacheDirectory().resolve("staging"))) {
                assertEquals(List.of(), s.toList(), "the staged pull is removed once placed");
            }
        } finally {
            dev.daxload.packager.image.Hugetlbfs.delete(huge);
        }
    }

    /** A sound copy of the image with another digest (its last byte of padding changed), which no test pushed yet. */
    static Path variant(String name, int lastByte) throws IOException {
        Path copy = dir.resolve(name);
        Files.copy(image, copy);
        try (RandomAccessFile f = new RandomAccessFile(copy.toFile(), "rw")) {
            f.seek(f.length() - 1);
            f.write(lastByte);
        }
        return copy;
    }

    @Test
    void aBlobTheRegistryHoldsIsNotSentAgainAndAnotherRepositoryMountsIt() throws Exception {
        Path unique = variant("dedup-src.daxfs", 0x33);
        Run first = DaxloadCliTest.run("push", "--plain-http", unique.toString(), registry.host() + "/dedup/first:v1");
        assertEquals(0, first.code(), first.err());
        assertTrue(first.err().contains("uploaded"), first.err());
        long patches = registry.requests("PATCH", "/dedup/first/");
        assertTrue(patches >= 1, "the first push uploads");
        Run again = DaxloadCliTest.run("push", "--plain-http", unique.toString(), registry.host() + "/dedup/first:v2");
        assertEquals(0, again.code(), again.err());
        assertTrue(again.err().contains("already there"), again.err());
        assertEquals(patches, registry.requests("PATCH", "/dedup/first/"), "no image bytes sent the second time");

        Run other = DaxloadCliTest.run("push", "--plain-http", unique.toString(), registry.host() + "/dedup/second:v1");
        assertEquals(0, other.code(), other.err());
        assertTrue(other.err().contains("mounted from"), other.err());
        assertEquals(0, registry.requests("PATCH", "/dedup/second/"), "the second repository mounts, no upload");
        Path out = dir.resolve("mounted.daxfs");
        assertEquals(0, pull(registry.host(), "dedup/second:v1", out).code());
        assertEquals(-1, Files.mismatch(unique, out));
    }

    @Test
    void theSamePushTwiceGivesTheSameManifestDigest() {
        Run a = push("stable/minilm:a");
        Run b = push("stable/minilm:b");
        assertEquals(0, a.code(), a.err());
        assertEquals(a.out().strip().replaceAll(".*@", ""), b.out().strip().replaceAll(".*@", ""));
    }

    @Test
    void aTagThatDoesNotExistIsNamedAndNothingIsWritten() throws Exception {
        Path out = dir.resolve("missing.daxfs");
        Run r = pull(registry.host(), "models/minilm:nope", out);
        assertEquals(1, r.code());
        assertTrue(r.err().contains("models/minilm:nope") && r.err().contains("no such tag"), r.err());
        assertNothingLeft(out);
    }

    @Test
    void anArtifactWithoutADaxloadImageIsRefusedByName() throws Exception {
        RegistryClient client = new RegistryClient(registry.host(), registry.host(),
                new RegistryClient.Options(true, Optional.empty(), Optional.empty(), 0));
        byte[] blob = "not an image".getBytes(StandardCharsets.UTF_8);
        byte[] config = "{}".getBytes(StandardCharsets.UTF_8);
        client.uploadBlob("other/thing", blob);
        client.uploadBlob("other/thing", config);
        String manifest = """
                {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
                 "artifactType":"application/vnd.example.thing",
                 "config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":%d},
                 "layers":[{"mediaType":"application/vnd.example.layer","digest":"%s","size":%d}]}"""
                .formatted(digest(config), config.length, digest(blob), blob.length);
        client.putManifest("other/thing", "v1", manifest.getBytes(StandardCharsets.UTF_8), "application/vnd.oci.image.manifest.v1+json");
        Path out = dir.resolve("thing.daxfs");
        Run r = pull(registry.host(), "other/thing:v1", out);
        assertEquals(1, r.code());
        assertTrue(r.err().contains("other/thing:v1") && r.err().contains("holds no daxload image")
                && r.err().contains("application/vnd.example.layer"), r.err());
        assertNothingLeft(out);
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "--streams {0}")
    @org.junit.jupiter.params.provider.ValueSource(ints = {1, 4})
    void aCorruptBlobInTheRegistryIsNamedByDigestAndNothingIsWritten(int streams) throws Exception {
        // a repository of its own, so that flipping the stored blob cannot touch the other tests' pulls
        Path copy = variant("flip-src-" + streams + ".daxfs", 0x5a + streams);
        String digest = sha256(copy);
        Run p = DaxloadCliTest.run("push", "-q", "--plain-http", copy.toString(), registry.host() + "/flip" + streams + "/minilm:v1");
        assertEquals(0, p.code(), p.err());
        registry.corruptBlob(digest);
        Path out = dir.resolve("flipped-" + streams + ".daxfs");
        Run r = pull(registry.host(), "flip" + streams + "/minilm:v1", out, streams);
        assertEquals(1, r.code());
        assertTrue(r.err().contains(digest) && r.err().contains("hash to"), r.err());
        assertNothingLeft(out);
    }

    @Test
    void anImageWhoseTensorsFailTheirChecksumsIsRefusedBeforeItIsPublished() throws Exception {
        Path corrupt = dir.resolve("corrupt-src.daxfs");
        Files.copy(image, corrupt);
        long offset;
        try (var weights = dev.daxload.model.ModelWeights.open(image, "minilm")) {
            var t = weights.manifest().tensors().get(weights.manifest().tensors().size() / 2);
            offset = t.offset() + t.length() / 2;
        }
        try (RandomAccessFile f = new RandomAccessFile(corrupt.toFile(), "rw")) {
            f.seek(offset);
            int b = f.read();
            f.seek(offset);
            f.write(b ^ 0x40);
        }
        Run p = DaxloadCliTest.run("push", "-q", "--plain-http", corrupt.toString(), registry.host() + "/corrupt/minilm:v1");
        assertEquals(0, p.code(), p.err()); // push checks the format, not the checksums: pull must catch it
        Path out = dir.resolve("corrupt.daxfs");
        Run r = pull(registry.host(), "corrupt/minilm:v1", out);
        assertEquals(1, r.code());
        assertTrue(r.err().contains("fail their checksums"), r.err());
        assertNothingLeft(out);
    }

    @Test
    void aPullResumesFromWhatAnEarlierPullLeft() throws Exception {
        assertEquals(0, push("resume/minilm:v1").code());
        Path out = dir.resolve("resumed.daxfs");
        long quarter = Files.size(image) / 4;
        Path partial = ImagePull.partialPath(out.toAbsolutePath(), imageDigest);
        try (var in = Files.newInputStream(image)) {
            Files.write(partial, in.readNBytes((int) quarter));
        }
        long before = registry.bytesServed("GET", "/resume/minilm/blobs/" + imageDigest);
        Run r = DaxloadCliTest.run("pull", "--plain-http", registry.host() + "/resume/minilm:v1", "-o", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("resumed at"), r.err());
        assertEquals(-1, Files.mismatch(image, out));
        long sent = registry.bytesServed("GET", "/resume/minilm/blobs/" + imageDigest) - before;
        assertEquals(Files.size(image) - quarter, sent, "the registry sent only the missing three quarters");
        assertNothingLeft(dir.resolve("never-there.daxfs"));
        assertFalse(Files.exists(partial));
    }

    @Test
    void aBrokenLinkAndA503AreRetriedFromTheLastByte() throws Exception {
        assertEquals(0, push("flaky/minilm:v1").code());
        long size = Files.size(image);
        FaultyLink.Fault fault = new FaultyLink.Fault() {
            @Override
            public boolean unavailable(int n) {
                return n == 1;
            }

            @Override
            public long cutAfter(int n) {
                return n == 2 ? size / 3 : -1;
            }
        };
        long before = registry.bytesServed("GET", "/flaky/minilm/blobs/");
        try (FaultyLink link = new FaultyLink(Integer.parseInt(registry.host().split(":")[1]), fault)) {
            Path out = dir.resolve("flaky.daxfs");
            Run r = pull(link.host(), "flaky/minilm:v1", out, 1);
            assertEquals(0, r.code(), r.err());
            assertEquals(-1, Files.mismatch(image, out));
            assertEquals(3, link.blobGets(), "a 503, a cut answer, then the rest");
        }
        long sent = registry.bytesServed("GET", "/flaky/minilm/blobs/") - before;
        assertTrue(sent < size + size / 3 + (4 << 20), "resumed, not restarted: " + sent + " bytes for " + size);
    }

    @Test
    void withSeveralStreamsEachBrokenChunkIsResumedFromItsLastByte() throws Exception {
        assertEquals(0, push("flaky4/minilm:v1").code());
        long size = Files.size(image);
        long chunk = 8 << 20; // ImagePull.chunkBytes for an image this small
        FaultyLink.Fault fault = new FaultyLink.Fault() {
            @Override
            public boolean unavailable(int n) {
                return n == 1;
            }

            @Override
            public long cutAfter(int n) {
                return n == 3 ? 3 << 20 : n == 6 ? 1 << 20 : -1;
            }
        };
        long before = registry.bytesServed("GET", "/flaky4/minilm/blobs/");
        try (FaultyLink link = new FaultyLink(Integer.parseInt(registry.host().split(":")[1]), fault)) {
            Path out = dir.resolve("flaky4.daxfs");
            Run r = pull(link.host(), "flaky4/minilm:v1", out, 4);
            assertEquals(0, r.code(), r.err());
            assertEquals(-1, Files.mismatch(image, out));
            long chunks = (size + chunk - 1) / chunk;
            assertEquals(chunks + 3, link.blobGets(), "one GET per chunk, plus the 503 and the two cut answers resumed");
            assertNothingLeft(dir.resolve("never-there.daxfs"));
        }
        long sent = registry.bytesServed("GET", "/flaky4/minilm/blobs/") - before;
        // the registry counts what it wrote into the socket, which can run ahead of the cut by the socket's buffers
        assertTrue(sent < size + 2 * chunk, "each cut chunk resumed, not restarted: " + sent + " bytes for " + size);
    }

    @Test
    void aRegistryThatIgnoresRangesIsReadInOneStream() throws Exception {
        assertEquals(0, push("norange/minilm:v1").code());
        FaultyLink.Fault fault = new FaultyLink.Fault() {
            @Override
            public boolean ignoreRanges() {
                return true;
            }
        };
        try (FaultyLink link = new FaultyLink(Integer.parseInt(registry.host().split(":")[1]), fault)) {
            Path out = dir.resolve("norange.daxfs");
            Run r = DaxloadCliTest.run("pull", "--plain-http", "--streams", "4", link.host() + "/norange/minilm:v1",
                    "-o", out.toString());
            assertEquals(0, r.code(), r.err());
            assertEquals(-1, Files.mismatch(image, out));
            assertTrue(link.blobGets() >= 2, "the streams asked for ranges, then one GET took the whole blob");
            assertNothingLeft(dir.resolve("never-there.daxfs"));
        }
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "--streams {0}")
    @org.junit.jupiter.params.provider.ValueSource(ints = {1, 4})
    void aManifestThatUnderstatesTheLayerIsRefused(int streams) throws Exception {
        assertEquals(0, push("short/minilm:v1").code());
        RegistryClient client = new RegistryClient(registry.host(), registry.host(),
                new RegistryClient.Options(true, Optional.empty(), Optional.empty(), 0));
        String m = new String(client.getManifest("short/minilm", "v1").body(), StandardCharsets.UTF_8);
        long size = Files.size(image);
        String lying = m.replace("\"size\":" + size, "\"size\":" + (size - 4096));
        assertNotEquals(m, lying);
        try {
            client.putManifest("short/minilm", "lying" + streams, lying.getBytes(StandardCharsets.UTF_8), "application/vnd.oci.image.manifest.v1+json");
        } catch (dev.daxload.registry.RegistryException refused) {
            assumeTrue(false, "this registry checks layer sizes itself: " + refused.getMessage());
        }
        Path out = dir.resolve("short-" + streams + ".daxfs");
        Run r = pull(registry.host(), "short/minilm:lying" + streams, out, streams);
        assertEquals(1, r.code());
        assertTrue(r.err().contains("more than the " + (size - 4096) + " bytes"), r.err());
        assertNothingLeft(out);
    }

    @Test
    void badUsageIsRefusedBeforeAnyTransfer() {
        Run dirTarget = pull(registry.host(), "models/minilm:v1", dir);
        assertEquals(1, dirTarget.code());
        assertTrue(dirTarget.err().contains("is a directory"), dirTarget.err());
        Run badRef = DaxloadCliTest.run("pull", "Registry.example/UPPER:v1", "-o", dir.resolve("x.daxfs").toString());
        assertEquals(1, badRef.code());
        assertTrue(badRef.err().contains("UPPER"), badRef.err());
        Run notImage = DaxloadCliTest.run("push", "--plain-http", MODEL.resolve("all-minilm-l6-v2-tokenizer.json").toString(),
                registry.host() + "/x/y:v1");
        assertEquals(1, notImage.code());
        assertTrue(notImage.err().contains("all-minilm-l6-v2-tokenizer.json"), notImage.err());
    }

    /** {@code daxload ARGS} in a JVM of its own, with daxload's cache in {@code cache}. */
    static Process child(Path cache, Path stdout, String... args) throws IOException {
        return new ProcessBuilder(childCommand(cache, args)).redirectErrorStream(true).redirectOutput(stdout.toFile()).start();
    }

    static List<String> childCommand(Path cache, String... args) {
        List<String> cmd = new java.util.ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "-Xmx128m", "-XX:TieredStopAtLevel=1", "--enable-native-access=ALL-UNNAMED",
                "-Ddaxload.cache.dir=" + cache, "-cp", System.getProperty("java.class.path"), "dev.daxload.cli.Daxload"));
        cmd.addAll(List.of(args));
        return cmd;
    }

    @Test
    void eightProcessesPullingOneReferenceAtOnceTransferItOnce() throws Exception {
        Path unique = variant("eight-src.daxfs", 0x08);
        String digest = sha256(unique);
        Run p = DaxloadCliTest.run("push", "-q", "--plain-http", unique.toString(), registry.host() + "/eight/minilm:v1");
        assertEquals(0, p.code(), p.err());
        Path cache = dir.resolve("eight-cache");
        List<Process> processes = new java.util.ArrayList<>();
        List<Path> outputs = new java.util.ArrayList<>();
        for (int i = 0; i < 8; i++) {
            Path out = dir.resolve("eight-" + i + ".txt");
            outputs.add(out);
            processes.add(child(cache, out, "pull", "-q", "--plain-http", registry.host() + "/eight/minilm:v1"));
        }
        Path cached = null;
        for (int i = 0; i < 8; i++) {
            assertTrue(processes.get(i).waitFor(120, java.util.concurrent.TimeUnit.SECONDS), "process " + i + " hangs");
            String out = Files.readString(outputs.get(i)).strip();
            assertEquals(0, processes.get(i).exitValue(), out);
            Path path = Path.of(out.lines().reduce((a, b) -> b).orElseThrow());
            cached = cached == null ? path : cached;
            assertEquals(cached, path, "every process names the same cached image");
        }
        assertEquals(-1, Files.mismatch(unique, cached));
        assertEquals(1, registry.requests("GET", "/blobs/" + digest), "one blob transfer for eight processes");
        assertEquals(Files.size(unique), registry.bytesServed("GET", "/blobs/" + digest));
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "--streams {0}")
    @org.junit.jupiter.params.provider.ValueSource(ints = {1, 4})
    void aPullKilledAtAQuarterIsResumedWithLittleSentTwice(int streams) throws Exception {
        Path unique = variant("killed-src-" + streams + ".daxfs", 0x4b + streams);
        String digest = sha256(unique);
        long size = Files.size(unique);
        String repo = "/killed" + streams + "/minilm:v1";
        Run p = DaxloadCliTest.run("push", "-q", "--plain-http", unique.toString(), registry.host() + repo);
        assertEquals(0, p.code(), p.err());
        Path out = dir.resolve("killed-" + streams + ".daxfs");
        Path partial = ImagePull.partialPath(out.toAbsolutePath(), digest);
        FaultyLink.Fault slow = new FaultyLink.Fault() {
            @Override
            public long bytesPerSecond() {
                return 16L << 20; // a quarter of the image arrives after about 1.4 s
            }
        };
        long through;
        try (FaultyLink link = new FaultyLink(Integer.parseInt(registry.host().split(":")[1]), slow)) {
            Path log = dir.resolve("killed-" + streams + ".txt");
            Process puller = child(dir.resolve("killed-cache"), log, "pull", "-q", "--plain-http", "--streams",
                    Integer.toString(streams), link.host() + repo, "-o", out.toString());
            long deadline = System.nanoTime() + 120_000_000_000L;
            while (link.blobBytes() < size / 4 && System.nanoTime() < deadline && puller.isAlive()) {
                Thread.sleep(20);
            }
            assertTrue(puller.isAlive(), "the pull ended before a quarter: " + Files.readString(log));
            puller.destroyForcibly().waitFor(); // SIGKILL
            through = link.blobBytes();
        }
        long atKill = Files.size(partial);
        assertTrue(atKill > 0, "the killed pull left its bytes in " + partial);
        // one stream writes in order (the file's size says what it holds); several keep a journal of their chunks
        assertEquals(streams > 1, Files.exists(ImagePull.journalPath(partial)));
        assertFalse(Files.exists(out), "nothing at the target after kill -9");
        Run again = DaxloadCliTest.run("pull", "--plain-http", "--streams", Integer.toString(streams), registry.host() + repo,
                "-o", out.toString());
        assertEquals(0, again.code(), again.err());
        assertTrue(again.err().contains("resumed at"), again.err());
        assertEquals(-1, Files.mismatch(unique, out));
        assertNothingLeft(dir.resolve("never-there.daxfs"));
        long servedTwice = registry.bytesServed("GET", "/blobs/" + digest) - size;
        System.out.printf("--streams %d: kill -9 with %d of %d bytes through the link: %d bytes sent twice%n", streams,
                through, size, servedTwice);
        assertTrue(servedTwice <= (64L << 20), servedTwice + " bytes sent twice");
    }

    static String exec(Path workDir, String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).directory(workDir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS), String.join(" ", cmd) + " hangs");
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + out);
        return out;
    }

    @Test
    void asAContainerImageItUnpacksWithSkopeoAndUmociByteForByte() throws Exception {
        for (String tool : List.of("/usr/bin/skopeo", "/usr/bin/umoci")) {
            assumeTrue(Files.isExecutable(Path.of(tool)), "needs Debian's " + tool + " (.ci/run installs skopeo and umoci)");
        }
        Run p = DaxloadCliTest.run("push", "-q", "--as-image", "--plain-http", image.toString(), registry.host() + "/k8s/minilm:v1");
        assertEquals(0, p.code(), p.err());
        Path work = Files.createDirectories(dir.resolve("umoci"));
        exec(work, "skopeo", "copy", "--src-tls-verify=false", "docker://" + registry.host() + "/k8s/minilm:v1", "oci:layout:v1");
        exec(work, "umoci", "unpack", "--rootless", "--image", "layout:v1", "bundle");
        assertEquals(-1, Files.mismatch(image, work.resolve("bundle/rootfs/minilm.daxfs")));
        Run again = DaxloadCliTest.run("push", "-q", "--as-image", "--plain-http", image.toString(), registry.host() + "/k8s/minilm:v2");
        assertEquals(p.out().strip().replaceAll(".*@", ""), again.out().strip().replaceAll(".*@", ""), "same image, same digest");
    }

    @Test
    void basicAuthOverTlsWithACertificateMadeHere() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/openssl")) && Files.isExecutable(Path.of("/usr/bin/htpasswd")),
                "needs openssl and htpasswd (apache2-utils; .ci/run installs it)");
        Path sec = Files.createDirectories(dir.resolve("tls"));
        exec(sec, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", "key.pem", "-out", "cert.pem");
        Files.writeString(sec.resolve("htpasswd"), exec(sec, "htpasswd", "-Bbn", "fleet", "s3cret").strip() + "\n");
        try (LocalRegistry secure = LocalRegistry.start(dir.resolve("secure-registry"),
                new LocalRegistry.Security(sec.resolve("htpasswd"), sec.resolve("cert.pem"), sec.resolve("key.pem")))) {
            secure.awaitListening();
            String ref = secure.host() + "/private/minilm:v1";
            Path cache = dir.resolve("secure-cache");
            // the certificate is not trusted without --ca-file
            Path out1 = dir.resolve("secure-1.txt");
            Process untrusted = child(cache, out1, "push", "-q", image.toString(), ref);
            assertTrue(untrusted.waitFor(120, java.util.concurrent.TimeUnit.SECONDS));
            assertEquals(1, untrusted.exitValue(), Files.readString(out1));
            // no credentials: the registry's question is named
            Path out2 = dir.resolve("secure-2.txt");
            Process anonymous = child(cache, out2, "push", "-q", "--ca-file", sec.resolve("cert.pem").toString(), image.toString(), ref);
            assertTrue(anonymous.waitFor(120, java.util.concurrent.TimeUnit.SECONDS));
            assertEquals(1, anonymous.exitValue());
            assertTrue(Files.readString(out2).contains("asks for a user name and password"), Files.readString(out2));
            // --username with --password-stdin
            Path out3 = dir.resolve("secure-3.txt");
            Process push = child(cache, out3, "push", "-q", "--ca-file", sec.resolve("cert.pem").toString(),
                    "--username", "fleet", "--password-stdin", image.toString(), ref);
            try (var stdin = push.getOutputStream()) {
                stdin.write("s3cret\n".getBytes(StandardCharsets.UTF_8));
            }
            assertTrue(push.waitFor(120, java.util.concurrent.TimeUnit.SECONDS));
            assertEquals(0, push.exitValue(), Files.readString(out3));
            // a Docker auth file, as docker/podman login leave it
            Path authFile = sec.resolve("auth.json");
            String basic = java.util.Base64.getEncoder().encodeToString("fleet:s3cret".getBytes(StandardCharsets.UTF_8));
            Files.writeString(authFile, "{\"auths\":{\"" + secure.host() + "\":{\"auth\":\"" + basic + "\"}}}");
            Path pulled = dir.resolve("secure.daxfs");
            Path out4 = dir.resolve("secure-4.txt");
            ProcessBuilder pb = new ProcessBuilder(childCommand(cache, "pull", "-q", "--ca-file", sec.resolve("cert.pem").toString(),
                    ref, "-o", pulled.toString())).redirectErrorStream(true).redirectOutput(out4.toFile());
            pb.environment().put("REGISTRY_AUTH_FILE", authFile.toString());
            Process pull = pb.start();
            assertTrue(pull.waitFor(120, java.util.concurrent.TimeUnit.SECONDS));
            assertEquals(0, pull.exitValue(), Files.readString(out4));
            assertEquals(-1, Files.mismatch(image, pulled));
        }
    }

    @Test
    void bearerTokensFromTheRealmTheRegistryNames() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/openssl")), "needs openssl to make the token signing key");
        Path sec = Files.createDirectories(dir.resolve("token"));
        exec(sec, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=daxload token signer",
                "-keyout", "key.pem", "-out", "cert.pem");
        try (TokenService tokens = new TokenService(sec.resolve("cert.pem"), sec.resolve("key.pem"), "fleet", "t0ken");
             LocalRegistry secured = LocalRegistry.start(dir.resolve("token-registry"), null,
                     new LocalRegistry.TokenAuth(tokens.realm(), TokenService.SERVICE, TokenService.ISSUER, sec.resolve("cert.pem")))) {
            String ref = secured.host() + "/private/minilm:v1";
            Path authFile = sec.resolve("auth.json");
            String basic = java.util.Base64.getEncoder().encodeToString("fleet:t0ken".getBytes(StandardCharsets.UTF_8));
            Files.writeString(authFile, "{\"auths\":{\"" + secured.host() + "\":{\"auth\":\"" + basic + "\"}}}");
            Path out = dir.resolve("token.daxfs");
            for (List<String> args : List.of(List.of("push", "-q", "--plain-http", image.toString(), ref),
                    List.of("pull", "-q", "--plain-http", ref, "-o", out.toString()))) {
                Path log = dir.resolve("token-" + args.get(0) + ".txt");
                ProcessBuilder pb = new ProcessBuilder(childCommand(dir.resolve("token-cache"), args.toArray(String[]::new)))
                        .redirectErrorStream(true).redirectOutput(log.toFile());
                pb.environment().put("REGISTRY_AUTH_FILE", authFile.toString());
                Process p = pb.start();
                assertTrue(p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS));
                assertEquals(0, p.exitValue(), Files.readString(log));
            }
            assertEquals(-1, Files.mismatch(image, out));
            assertTrue(tokens.tokensIssued() >= 2, "push and pull each asked the realm for a token");
            Run anonymous = DaxloadCliTest.run("pull", "-q", "--plain-http", ref, "-o", dir.resolve("token-anon.daxfs").toString());
            assertEquals(1, anonymous.code());
            assertTrue(anonymous.err().contains("token service") && anonymous.err().contains("no credentials"), anonymous.err());
        }
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "--streams {0}")
    @org.junit.jupiter.params.provider.ValueSource(ints = {1, 4})
    void aFullDiskIsNamedAndNothingIsAtTheTarget(int streams) throws Exception {
        Path small = Files.createDirectories(dir.resolve("small-fs-" + streams));
        Process mount = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", small.toString())
                .redirectErrorStream(true).start();
        String why = new String(mount.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assumeTrue(mount.waitFor() == 0, "a full disk is made as a 24 MiB tmpfs, which needs mount permission here: " + why);
        try {
            assertEquals(0, push("full/minilm:v1").code());
            Path out = small.resolve("minilm.daxfs");
            Run r = pull(registry.host(), "full/minilm:v1", out, streams);
            assertEquals(1, r.code());
            assertTrue(r.err().contains("is full") && r.err().contains(imageDigest) && r.err().contains("nothing at " + out),
                    r.err());
            assertFalse(Files.exists(out));
        } finally {
            new ProcessBuilder("umount", small.toString()).start().waitFor();
        }
    }

    static String digest(byte[] b) throws Exception {
        return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }
}
