package dev.daxload.cli;

import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import dev.daxload.image.DaxImage;
import dev.daxload.image.ImageProblem;
import dev.daxload.image.internal.ImageValidator;
import dev.daxload.image.MapOptions;
import dev.daxload.image.internal.Mmap;
import dev.daxload.manifest.ModelCatalog;
import dev.daxload.manifest.ModelManifest;
import dev.daxload.manifest.TensorEntry;
import dev.daxload.table.LookupTable;
import dev.daxload.tensor.TensorView;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Check an image against every rule of the format and everything a loader reads: each model's",
            "manifest (strict JSON), its lookup tables (every offset and index slot) and, unless --no-checksums,",
            "every tensor's CRC32C (in parallel). Exits 0 only for a sound image; prints each problem with its",
            "inode, offset and rule."})
final class VerifyCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IMAGE")
    Path imagePath;

    @Option(names = "--checksums", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "check the CRC32C of every tensor of every model (the default; --no-checksums skips it)")
    boolean checksums = true;

    @Option(names = "--threads", paramLabel = "N", description = "threads for the checksums (default: one per core)")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = {"-q", "--quiet"}, description = "print nothing; the exit code tells")
    boolean quiet;

    @Option(names = "--json", description = "one JSON document, for scripts (docs/cli-json.md); an unsound image"
            + " also gets an error document on stderr")
    boolean json;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try (Arena arena = Arena.ofShared()) {
            ImageArgument.check(imagePath);
            MemorySegment seg = Mmap.map(imagePath, MapOptions.readOnly(), arena);
            ImageValidator.Result result = ImageValidator.validate(seg);
            if (json) {
                return jsonReport(result, seg, out, err);
            }
            if (!quiet) {
                for (ImageProblem p : result.problems()) {
                    err.println(imagePath + ": " + p);
                }
                if (result.droppedProblems() > 0) {
                    err.println(imagePath + ": ... and " + result.droppedProblems() + " more problems");
                }
            }
            if (!result.sound()) {
                if (!quiet) {
                    err.println(imagePath + ": " + result.errorCount() + " errors, "
                            + (result.problems().size() - result.errorCount() + result.droppedProblems()) + " warnings");
                }
                err.flush();
                return 1;
            }
            DaxImage image = DaxImage.of(seg, imagePath.toString());
            if (Mmap.fixedSize(imagePath)) {
                image.declareFixedSize(); // a device or a sealed memfd: checksums read it directly
            }
            List<String> problems = new ArrayList<>();
            List<ModelManifest> manifests = checkModels(image, problems);
            String summary = result.superblock().inodeCount() + " inodes";
            if (!manifests.isEmpty()) {
                summary += ", " + manifests.size() + (manifests.size() == 1 ? " model" : " models") + ", " + tablesChecked + " tables";
            }
            if (problems.isEmpty() && checksums && !manifests.isEmpty()) {
                // Populated up front: CRC32C runs far faster than pages fault in one by one.
                Mmap.populate(seg);
                problems.addAll(checkTensors(image, manifests));
                summary += ", " + tensorsChecked + " tensor checksums (" + Sizes.human(bytesChecked)
                        + String.format(", %.2f GB/s)", bytesChecked / Math.max(1e-9, seconds) / 1e9);
            }
            if (!problems.isEmpty()) {
                if (!quiet) {
                    problems.forEach(b -> err.println(imagePath + ": " + b));
                    err.println(imagePath + ": " + problems.size() + " problems");
                }
                err.flush();
                return 1;
            }
            if (!quiet) {
                out.println(imagePath + ": OK (" + summary + ")");
            }
        }
        out.flush();
        err.flush();
        return 0;
    }

    private long tablesChecked;
    private long tensorsChecked;
    private long bytesChecked;
    private double seconds;

    /** Every model's manifest as a loader reads it, plus strict JSON syntax; every table of it, row by row. */
    private List<ModelManifest> checkModels(DaxImage image, List<String> problems) {
        List<ModelManifest> manifests = new ArrayList<>();
        List<String> models;
        try {
            models = ModelCatalog.models(image);
        } catch (IOException | RuntimeException e) {
            problems.add("models: " + e.getMessage());
            return manifests;
        }
        for (String model : models) {
            String where = model + "/manifest.json";
            try {
                checkStrictJson(image.content(where), where);
                ModelManifest m = ModelCatalog.load(image, model);
                for (String file : m.files()) {
                    checkSideFile(image, model, file);
                }
                manifests.add(m);
                for (String table : m.tables()) {
                    LookupTable.open(image, model + "/" + table).checkAll();
                    tablesChecked++;
                }
            } catch (IOException | RuntimeException e) {
                problems.add(e.getMessage());
            }
        }
        return manifests;
    }

    /**
     * A side file the manifest lists, as a loader will copy or serve it: a plain relative path under
     * {@code files/} (no empty, {@code .} or {@code ..} component) naming a regular file of the model.
     */
    static void checkSideFile(DaxImage image, String model, String file) throws IOException {
        String where = model + "/manifest.json: files entry '" + file + "'";
        String[] parts = file.split("/", -1);
        if (parts.length < 2 || !parts[0].equals("files")) {
            throw new IOException(where + " is not under files/");
        }
        for (String part : parts) {
            if (part.isEmpty() || part.equals(".") || part.equals("..")) {
                throw new IOException(where + " is not a plain relative path (an empty, '.' or '..' component)");
            }
        }
        var inode = image.lookup(model + "/" + file);
        if (inode.isEmpty() || !inode.get().isRegularFile()) {
            throw new IOException(where + " is not a regular file of the image");
        }
    }

    /**
     * RFC 8259 JSON and nothing else (no byte order mark, comments, single quotes, trailing data),
     * read as a stream: the check holds no tree, whatever the manifest's size.
     */
    static void checkStrictJson(MemorySegment bytes, String where) throws IOException {
        if (bytes.byteSize() >= 3 && (bytes.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0) & 0xff) == 0xef
                && (bytes.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 1) & 0xff) == 0xbb
                && (bytes.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 2) & 0xff) == 0xbf) {
            throw new IOException(where + ": starts with a byte order mark; a manifest is plain JSON (RFC 8259)");
        }
        var decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT);
        try (JsonReader r = new JsonReader(new InputStreamReader(new SegmentInputStream(bytes), decoder))) {
            r.setStrictness(Strictness.STRICT);
            r.skipValue();
            if (r.peek() != JsonToken.END_DOCUMENT) {
                throw new IOException(where + ": data after the JSON value at " + r.getPath());
            }
        } catch (com.google.gson.JsonParseException | java.nio.charset.CharacterCodingException | IllegalStateException e) {
            throw new IOException(where + ": not strict JSON: " + e.getMessage(), e);
        } catch (IOException e) {
            if (e.getMessage() != null && e.getMessage().startsWith(where)) {
                throw e;
            }
            throw new IOException(where + ": not strict JSON: " + String.valueOf(e.getMessage())
                    .replace("Use JsonReader.setStrictness(Strictness.LENIENT) to accept malformed JSON", "malformed JSON"), e);
        }
    }

    /** A segment as a stream, so a manifest is parsed without a copy of it on the heap. */
    private static final class SegmentInputStream extends java.io.InputStream {
        private final MemorySegment seg;
        private long pos;

        SegmentInputStream(MemorySegment seg) {
            this.seg = seg;
        }

        @Override
        public int read() {
            return pos < seg.byteSize() ? seg.get(java.lang.foreign.ValueLayout.JAVA_BYTE, pos++) & 0xff : -1;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            long left = seg.byteSize() - pos;
            if (left <= 0) {
                return -1;
            }
            int n = (int) Math.min(len, left);
            MemorySegment.copy(seg, java.lang.foreign.ValueLayout.JAVA_BYTE, pos, b, off, n);
            pos += n;
            return n;
        }
    }

    /** CRC32C of every tensor, largest first so one big tensor does not run alone at the end. */
    private List<String> checkTensors(DaxImage image, List<ModelManifest> manifests) throws Exception {
        List<TensorView> views = new ArrayList<>();
        for (ModelManifest m : manifests) {
            for (TensorEntry t : m.tensors()) {
                if (t.crc32c() != null) {
                    views.add(new TensorView(t, image.segment().asSlice(t.offset(), t.length()), image));
                }
            }
        }
        views.sort((a, b) -> Long.compare(b.byteSize(), a.byteSize()));
        long total = views.stream().mapToLong(TensorView::byteSize).sum();
        AtomicLong done = new AtomicLong();
        List<String> bad = Collections.synchronizedList(new ArrayList<>());
        long t0 = System.nanoTime();
        try (ProgressBar bar = new ProgressBar("checksums", quiet); ForkJoinPool pool = new ForkJoinPool(Math.max(1, threads))) {
            pool.submit(() -> views.parallelStream().forEach(v -> {
                try {
                    v.verify();
                } catch (TensorView.ChecksumException e) {
                    bad.add(e.getMessage());
                }
                bar.progress(done.addAndGet(v.byteSize()), total);
            })).get();
        }
        seconds = (System.nanoTime() - t0) / 1e9;
        tensorsChecked = views.size();
        bytesChecked = total;
        return bad;
    }

    /** --json: the same checks as the text form, reported as one document (docs/cli-json.md), same exit code. */
    private int jsonReport(ImageValidator.Result result, MemorySegment seg, PrintWriter out, PrintWriter err) throws Exception {
        quiet = true; // no progress bar
        com.google.gson.JsonObject doc = JsonOutput.document("verify");
        doc.addProperty("image", imagePath.toString());
        com.google.gson.JsonArray problems = new com.google.gson.JsonArray();
        result.problems().forEach(p -> problems.add(p.toString()));
        long errors = result.errorCount();
        if (result.sound()) {
            DaxImage image = DaxImage.of(seg, imagePath.toString());
            if (Mmap.fixedSize(imagePath)) {
                image.declareFixedSize();
            }
            List<String> found = new ArrayList<>();
            List<ModelManifest> manifests = checkModels(image, found);
            doc.addProperty("models", manifests.size());
            doc.addProperty("tables", tablesChecked);
            if (found.isEmpty() && checksums && !manifests.isEmpty()) {
                Mmap.populate(seg);
                found.addAll(checkTensors(image, manifests));
            }
            found.forEach(problems::add);
            errors += found.size();
        }
        doc.addProperty("inodes", result.superblock() != null ? result.superblock().inodeCount() : 0);
        doc.addProperty("checksums", checksums);
        doc.addProperty("tensorsChecked", tensorsChecked);
        doc.addProperty("bytesChecked", bytesChecked);
        doc.addProperty("sound", errors == 0);
        doc.addProperty("errors", errors);
        doc.addProperty("warnings", result.problems().size() - result.errorCount() + result.droppedProblems());
        doc.addProperty("droppedProblems", result.droppedProblems());
        doc.add("problems", problems);
        JsonOutput.print(out, doc);
        if (errors > 0) {
            JsonOutput.print(err, JsonOutput.error("daxload verify", imagePath + ": " + errors + " errors", 1));
            return 1;
        }
        return 0;
    }
}
