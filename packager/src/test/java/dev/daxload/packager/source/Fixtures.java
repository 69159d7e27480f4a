package dev.daxload.packager.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.daxload.packager.image.FileContent;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;

/** Shared test helpers: the reference fixtures, and what a {@link FileContent} really writes. */
public final class Fixtures {
    /**
     * The packager's own reference-written fixtures (make_fixtures.py there): {@code daxload.ownFixtures}
     * when another module's tests use them, else relative to the packager module.
     */
    public static final Path OWN = Path.of(System.getProperty("daxload.ownFixtures", "src/test/fixtures"));

    /** Contents are written this far into a scratch file, so a writer that ignores its position fails. */
    static final long AT = 4099;

    private Fixtures() {
    }

    /**
     * The repository's reference-writer fixtures ({@code testdata/} at the root, made by its
     * {@code make.sh}): {@code daxload.testdata}, which the build sets, else {@code ../testdata} from a
     * module. They are part of the repository, so their absence is a failure, never a skip.
     */
    public static Path repositoryTestdata() {
        Path dir = Path.of(System.getProperty("daxload.testdata", "../testdata"));
        assertTrue(Files.isRegularFile(dir.resolve("expected.json")), "the repository's testdata/ is not at " + dir.toAbsolutePath()
                + " (system property daxload.testdata): a broken checkout");
        return dir;
    }

    /** Kept for callers that tolerate its absence; it is always there in a checkout. */
    public static Optional<Path> sharedTestdata() {
        return Optional.of(repositoryTestdata());
    }

    /** The repository's fixture folder. */
    static Path testdata() {
        return repositoryTestdata();
    }

    static JsonObject expected() throws IOException {
        return JsonParser.parseString(Files.readString(testdata().resolve("expected.json"), StandardCharsets.UTF_8))
                .getAsJsonObject().getAsJsonObject("files");
    }

    /** Writes {@code c} into a scratch file at {@link #AT} and returns exactly the bytes it wrote there. */
    static byte[] bytes(FileContent c) throws IOException {
        Path tmp = Files.createTempFile("daxload-content-", ".bin");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            c.writeTo(ch, AT);
            long size = c.size();
            assertEquals(size == 0 ? 0 : AT + size, ch.size(), "bytes written by " + c.describe());
            ByteBuffer b = ByteBuffer.allocate((int) size);
            while (b.hasRemaining() && ch.read(b, AT + b.position()) >= 0) {
                // read back
            }
            return b.array();
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Asserts that {@code reader} refuses {@code path} with a {@link SourceFormatException} whose message
     * names the file and contains every fragment; returns it.
     */
    static SourceFormatException refused(SourceReader reader, Path path, String... fragments) {
        SourceFormatException e = org.junit.jupiter.api.Assertions.assertThrows(SourceFormatException.class,
                () -> reader.read(path));
        String msg = e.getMessage();
        org.junit.jupiter.api.Assertions.assertTrue(msg.contains(path.getFileName().toString()),
                "message names the file: " + msg);
        for (String f : fragments) {
            org.junit.jupiter.api.Assertions.assertTrue(msg.contains(f), "message contains '" + f + "': " + msg);
        }
        return e;
    }

    /**
     * The SHA-256 that an expected.json entry gives for the bytes an image must hold (C order,
     * little-endian): {@code sha256_image} where given, else the source's hash or the one it gives for
     * the reordered or swapped bytes; empty for a source both big-endian and Fortran-ordered, for
     * which the shared expected.json has none (its values still pin the bytes).
     */
    public static Optional<String> imageSha256(JsonObject e) {
        if (e.has("sha256_image")) {
            return Optional.of(e.get("sha256_image").getAsString());
        }
        boolean fortran = e.has("sha256_c_order");
        boolean big = e.has("sha256_little_endian");
        if (fortran && big) {
            return Optional.empty();
        }
        return Optional.of((fortran ? e.get("sha256_c_order") : big ? e.get("sha256_little_endian") : e.get("sha256")).getAsString());
    }

    /**
     * The expected.json entries of the tensors a sharded index maps, gathered from its shards' entries.
     *
     * @param folder the index's folder relative to the test data ("" at its top)
     */
    public static JsonArray shardTensors(JsonObject index, String folder, JsonObject files) {
        JsonArray out = new JsonArray();
        JsonObject weightMap = index.getAsJsonObject("weight_map");
        for (var w : weightMap.entrySet()) {
            JsonObject shard = files.getAsJsonObject(folder + w.getValue().getAsString());
            assertNotNull(shard, "expected.json describes shard " + w.getValue());
            for (JsonElement t : shard.getAsJsonArray("tensors")) {
                if (t.getAsJsonObject().get("name").getAsString().equals(w.getKey())) {
                    out.add(t);
                }
            }
        }
        assertEquals(weightMap.size(), out.size(), "every weight_map entry has an expected tensor");
        return out;
    }

    public static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * Decodes element {@code i} of little-endian {@code data} as the JSON form expected.json uses (numbers,
     * booleans, "NaN"/"Infinity"/"-Infinity"), or null for types expected.json does not give plainly.
     */
    static Object value(byte[] data, String dtype, int i) {
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        return switch (dtype) {
            case "F64" -> num(b.getDouble(i * 8));
            case "F32" -> num(b.getFloat(i * 4));
            case "F16" -> num(Float.float16ToFloat(b.getShort(i * 2)));
            case "BF16" -> num(Float.intBitsToFloat((b.getShort(i * 2) & 0xFFFF) << 16));
            case "I64" -> b.getLong(i * 8);
            case "I32" -> (long) b.getInt(i * 4);
            case "I16" -> (long) b.getShort(i * 2);
            case "I8" -> (long) b.get(i);
            case "U64" -> Long.toUnsignedString(b.getLong(i * 8));
            case "U32" -> (long) b.getInt(i * 4) & 0xFFFF_FFFFL;
            case "U16" -> (long) b.getShort(i * 2) & 0xFFFF;
            case "U8" -> (long) b.get(i) & 0xFF;
            case "BOOL" -> b.get(i) != 0;
            default -> null;
        };
    }

    private static Object num(double d) {
        if (Double.isNaN(d)) {
            return "NaN";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "Infinity" : "-Infinity";
        }
        return d;
    }

    /** The expected.json value in the form {@link #value} returns. */
    static Object jsonValue(JsonElement e, String dtype) {
        var p = e.getAsJsonPrimitive();
        if (p.isString()) {
            return p.getAsString();
        }
        if (p.isBoolean()) {
            return p.getAsBoolean();
        }
        return switch (dtype) {
            case "F64", "F32", "F16", "BF16" -> p.getAsDouble();
            case "U64" -> p.getAsBigInteger().toString();
            case "BOOL" -> p.getAsInt() != 0;
            default -> p.getAsLong();
        };
    }
}
