package dev.daxload.samples.bench;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.model.ModelPackager;
import dev.daxload.packager.source.OnnxReader;
import dev.daxload.packager.source.SafetensorsReader;
import dev.daxload.packager.source.SourceModel;
import dev.daxload.packager.source.SourceTensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The inputs of the benchmarks, made once and cached in a directory (by default
 * {@code samples/target/bench}): for each model an image {@code <model>.daxfs} holding it under the
 * name {@code <model>}, and a safetensors file {@code <model>.safetensors} of the same tensors for the
 * baselines that decode or copy.
 *
 * <ul>
 * <li>{@code minilm}, {@code bge}: the real ONNX models from Maven Central (all-MiniLM-L6-v2,
 *     bge-small-en-v1.5), packed with {@link OnnxReader}; the safetensors file holds the same
 *     initializers, written here.
 * <li>{@code synthetic-8g}: about 8.6 GB in 1,000 tensors, F32 and BF16. Its safetensors file is sparse
 *     (all holes: it costs no disk and no time to make); the image is packed from it with the packager,
 *     so it holds real zero blocks. Opening and viewing never read the weights, so their values do not
 *     matter to what is measured with it.
 * <li>{@code synthetic-100m}: the same 1,000 tensors (names, dtypes, proportions) in 100 MB, made the
 *     same way: the control that separates the model's size from its tensor count.
 * <li>{@code synthetic-512m}: 512 MiB in 64 F32 tensors of pseudo-random bytes (not holes, so pages are
 *     real wherever they are read), for the memory benchmark.
 * <li>{@code synthetic-3g}: 3 GiB in 200 tensors of pseudo-random bytes, safetensors only: the source
 *     of the packing benchmark.
 * <li>{@code synthetic-1g}, {@code synthetic-4g}, {@code synthetic-16g}: 1, 4 and 16 GiB in 300 tensors,
 *     F32 and F16 (which both DJL's copying {@code create} and daxload's views take), made as
 *     {@code synthetic-8g} is: the multi-GB start-up benchmark.
 * </ul>
 *
 * <pre>usage: BenchFiles DIR MODEL...   prints the paths it made or found</pre>
 */
public final class BenchFiles {
    public static final Path MODELS = Path.of(System.getProperty("daxload.bench.models", "samples/target/models"));
    public static final Path DIR = Path.of(System.getProperty("daxload.bench.dir", "samples/target/bench"));

    private BenchFiles() {}

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        for (int i = 1; i < args.length; i++) {
            long t0 = System.nanoTime();
            Path st = safetensors(dir, args[i]);
            Path img = args[i].equals("synthetic-3g") ? null : image(dir, args[i]);
            System.out.printf("%s: %s (%,d bytes)%s in %.1f s%n", args[i], st, Files.size(st),
                    img == null ? "" : String.format(", %s (%,d bytes)", img, Files.size(img)), (System.nanoTime() - t0) / 1e9);
        }
    }

    /** The image of {@code model} in {@code dir}, made if absent. */
    public static Path image(Path dir, String model) throws IOException {
        Path img = dir.resolve(model + ".daxfs");
        if (Files.exists(img)) {
            return img;
        }
        Files.createDirectories(dir);
        SourceModel source;
        Path tokenizer = null;
        if (isOnnx(model)) {
            source = new OnnxReader().read(onnx(model));
            tokenizer = tokenizer(model);
        } else {
            source = new SafetensorsReader().read(safetensors(dir, model));
        }
        // Written beside and renamed, so an interrupted run never leaves a half image to be reused.
        Path tmp = dir.resolve(model + ".daxfs.tmp");
        ModelPackager packager = new ModelPackager();
        ModelPackager.Model m = packager.model(model).add(source);
        if (tokenizer != null) {
            m.sideFile("tokenizer.json", FileContent.of(tokenizer, Files.size(tokenizer)));
        }
        packager.write(new ImageWriter(), tmp);
        Files.move(tmp, img, StandardCopyOption.ATOMIC_MOVE);
        return img;
    }

    /** The safetensors file of {@code model} in {@code dir}, made if absent. */
    public static Path safetensors(Path dir, String model) throws IOException {
        Path st = dir.resolve(model + ".safetensors");
        if (Files.exists(st)) {
            return st;
        }
        Files.createDirectories(dir);
        Path tmp = dir.resolve(model + ".safetensors.tmp");
        switch (model) {
            case "minilm", "bge" -> write(tmp, new OnnxReader().read(onnx(model)).tensors());
            case "synthetic-8g" -> synthetic(tmp, layout(1000, 8_600_000_000L, 4096, true), false);
            case "synthetic-100m" -> synthetic(tmp, layout(1000, 100_000_000L, 4096, true), false);
            case "synthetic-512m" -> synthetic(tmp, layout(64, 512L << 20, 2048, false), true);
            case "synthetic-3g" -> synthetic(tmp, layout(200, 3L << 30, 4096, true), true);
            case "synthetic-1g", "synthetic-4g", "synthetic-16g" -> synthetic(tmp, layout(300, gib(model) << 30, 4096, "F16"), false);
            default -> throw new IllegalArgumentException("unknown benchmark model '" + model
                    + "' (minilm, bge, synthetic-100m, synthetic-8g, synthetic-512m, synthetic-3g, synthetic-1g, synthetic-4g, synthetic-16g)");
        }
        Files.move(tmp, st, StandardCopyOption.ATOMIC_MOVE);
        return st;
    }

    static boolean isOnnx(String model) {
        return model.equals("minilm") || model.equals("bge");
    }

    public static Path onnx(String model) {
        return switch (model) {
            case "minilm" -> MODELS.resolve("all-minilm-l6-v2/all-minilm-l6-v2.onnx");
            case "bge" -> MODELS.resolve("bge-small-en-v1.5/bge-small-en-v1.5.onnx");
            default -> throw new IllegalArgumentException(model + " is not an ONNX model");
        };
    }

    public static Path tokenizer(String model) {
        return switch (model) {
            case "minilm" -> MODELS.resolve("all-minilm-l6-v2/all-minilm-l6-v2-tokenizer.json");
            case "bge" -> MODELS.resolve("bge-small-en-v1.5/bge-small-en-v1.5-tokenizer.json");
            default -> throw new IllegalArgumentException(model + " has no tokenizer");
        };
    }

    /** A safetensors file of {@code tensors}, tightly packed in their order, as the format requires. */
    static void write(Path out, List<SourceTensor> tensors) throws IOException {
        JsonObject header = new JsonObject();
        long offset = 0;
        for (SourceTensor t : tensors) {
            header.add(t.name(), entry(t.dtype(), t.shape(), offset, offset + t.content().size()));
            offset += t.content().size();
        }
        try (FileChannel ch = FileChannel.open(out, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE, StandardOpenOption.READ)) {
            long base = writeHeader(ch, header);
            long at = base;
            for (SourceTensor t : tensors) {
                t.content().writeTo(ch, at);
                at += t.content().size();
            }
        }
    }

    /** One tensor of a synthetic model. */
    record Spec(String name, String dtype, long[] shape, long bytes) {}

    /**
     * {@code count} tensors of about {@code totalBytes} in all, shaped like a transformer's: every eighth
     * a 1-D F32 norm of {@code width}, the others {@code [rows, width]} matrices, with {@code mixed} one
     * in three F32 and the rest BF16 (else all F32: DJL's {@code create} cannot make BF16 arrays, so the
     * copying baselines need F32), their sizes varying 0.5x to 1.5x around the mean (seeded, so the same every time).
     */
    static List<Spec> layout(int count, long totalBytes, int width, boolean mixed) {
        return layout(count, totalBytes, width, mixed ? "BF16" : null);
    }

    /** The GiB in a name such as {@code synthetic-16g}. */
    private static long gib(String model) {
        return Long.parseLong(model.substring(model.lastIndexOf('-') + 1, model.length() - 1));
    }

    /**
     * As {@link #layout(int, long, int, boolean)}, with two in three matrices of {@code half} (BF16, or
     * F16, which DJL's {@code create} can copy into, so the copying baseline can load it), or all F32 if null.
     */
    static List<Spec> layout(int count, long totalBytes, int width, String half) {
        boolean mixed = half != null;
        SplittableRandom rnd = new SplittableRandom(42);
        List<Spec> specs = new ArrayList<>(count);
        int matrices = count - count / 8;
        long left = totalBytes - (long) (count / 8) * width * 4;
        int matricesLeft = matrices;
        for (int i = 0; i < count; i++) {
            String name = "layers." + (i / 8) + ".t" + (i % 8) + ".weight";
            if (i % 8 == 7) {
                specs.add(new Spec(name.replace(".weight", ".norm"), "F32", new long[] {width}, width * 4L));
                continue;
            }
            String dtype = !mixed || i % 3 == 0 ? "F32" : half;
            long elemSize = dtype.equals("F32") ? 4 : 2;
            long mean = left / matricesLeft;
            long want = matricesLeft == 1 ? left : (long) (mean * (0.5 + rnd.nextDouble()));
            long rows = Math.max(1, Math.ceilDiv(want, width * elemSize));
            long bytes = rows * width * elemSize;
            specs.add(new Spec(name, dtype, new long[] {rows, width}, bytes));
            left -= bytes;
            matricesLeft--;
        }
        return specs;
    }

    /**
     * Writes a safetensors file of {@code specs}: with {@code random}, pseudo-random bytes (a fast
     * generator, a few seconds per GB); without, holes only (the file's length is set, nothing written).
     */
    static void synthetic(Path out, List<Spec> specs, boolean random) throws IOException {
        JsonObject header = new JsonObject();
        long offset = 0;
        for (Spec s : specs) {
            header.add(s.name(), entry(s.dtype(), s.shape(), offset, offset + s.bytes()));
            offset += s.bytes();
        }
        try (FileChannel ch = FileChannel.open(out, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE, StandardOpenOption.READ)) {
            long base = writeHeader(ch, header);
            long end = base + offset;
            if (!random) {
                // Extending by writing one zero byte at the end keeps everything before it a hole.
                ch.write(ByteBuffer.allocate(1), end - 1);
                return;
            }
            SplittableRandom rnd = new SplittableRandom(7);
            ByteBuffer buf = ByteBuffer.allocateDirect(8 << 20).order(ByteOrder.LITTLE_ENDIAN);
            for (long at = base; at < end; ) {
                buf.clear();
                while (buf.remaining() >= 8) {
                    buf.putLong(rnd.nextLong());
                }
                buf.flip().limit((int) Math.min(buf.limit(), end - at));
                while (buf.hasRemaining()) {
                    at += ch.write(buf, at);
                }
            }
        }
    }

    private static JsonObject entry(String dtype, long[] shape, long begin, long end) {
        JsonObject e = new JsonObject();
        e.addProperty("dtype", dtype);
        JsonArray s = new JsonArray();
        for (long d : shape) {
            s.add(d);
        }
        e.add("shape", s);
        JsonArray o = new JsonArray();
        o.add(begin);
        o.add(end);
        e.add("data_offsets", o);
        return e;
    }

    /** The 8-byte length and the JSON header, padded with spaces to 8 bytes; returns where data begins. */
    private static long writeHeader(FileChannel ch, JsonObject header) throws IOException {
        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) & ~7;
        ByteBuffer b = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(padded).put(json);
        while (b.hasRemaining()) {
            b.put((byte) ' ');
        }
        b.flip();
        long at = 0;
        while (b.hasRemaining()) {
            at += ch.write(b, at);
        }
        return 8 + padded;
    }
}
