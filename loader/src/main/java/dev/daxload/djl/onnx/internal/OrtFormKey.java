package dev.daxload.djl.onnx.internal;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * What ONNX Runtime's optimized form of a model depends on: ORT serializes the graph after its
 * optimizers ran and the weights after its kernels prepacked them, and neither says for which runtime
 * or processor that was. So the form is stored with this key, and used only where the key matches.
 *
 * @param ortVersion ONNX Runtime's version, e.g. {@code 1.21.1} (optimizers and blob layouts change between releases)
 * @param arch the JVM's {@code os.arch} (amd64, aarch64)
 * @param isa the processor features ORT's CPU kernels (MLAS) choose their code paths and packed layouts by, sorted
 * @param optimization ORT's graph optimization level the graph was made with
 */
public record OrtFormKey(String ortVersion, String arch, List<String> isa, String optimization) {
    /** Format tag of {@code key.json}. */
    public static final String FORMAT = "daxload-ort-form/1";

    /**
     * The /proc/cpuinfo flags MLAS dispatches on (x86: SSE4 to AVX-512 and AMX; Arm: dot product,
     * i8mm, bf16, SVE). A feature outside this list does not change which kernels run; one inside it may,
     * so a mismatch in any of them refuses the stored blobs (a needless refusal costs speed, never answers).
     */
    static final Set<String> DISPATCH_FEATURES = Set.of(
            "sse3", "ssse3", "sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c",
            "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd", "avx512_vnni", "avx_vnni",
            "avx512_bf16", "avx512_fp16", "avx_vnni_int8", "avx_ne_convert", "amx_tile", "amx_int8", "amx_bf16", "amx_fp16",
            "asimd", "asimddp", "asimdhp", "fphp", "i8mm", "bf16", "sve", "sve2", "sme");

    public OrtFormKey {
        isa = List.copyOf(new TreeSet<>(isa));
    }

    /** The key of this process: the ORT on the class path, this processor, the given optimization level. */
    public static OrtFormKey running(String optimization) throws IOException {
        return new OrtFormKey(runningOrtVersion(), System.getProperty("os.arch"), cpuFeatures(Path.of("/proc/cpuinfo")), optimization);
    }

    /**
     * This processor's part of the key, for comparing with {@link #processorMismatch} before ONNX
     * Runtime is loaded: its version is left {@code "?"}.
     */
    static OrtFormKey thisProcessor(String optimization) throws IOException {
        return new OrtFormKey("?", System.getProperty("os.arch"), cpuFeatures(Path.of("/proc/cpuinfo")), optimization);
    }

    /** ONNX Runtime's version as its native library reports it (its environment must exist). */
    static String runningOrtVersion() {
        return ai.onnxruntime.OrtEnvironment.getEnvironment().getVersion();
    }

    /**
     * The dispatch-relevant features of the first processor listed in {@code cpuinfo}. Scanned by hand, not with
     * {@code readAllLines} and a regex split: in a fresh JVM those cost 5-7 ms here, on the path of every load of a form.
     */
    static List<String> cpuFeatures(Path cpuinfo) throws IOException {
        String text = new String(Files.readAllBytes(cpuinfo), StandardCharsets.ISO_8859_1);
        int at = 0;
        while (at < text.length()) {
            int end = text.indexOf('\n', at);
            if (end < 0) {
                end = text.length();
            }
            int colon = text.indexOf(':', at);
            if (colon >= 0 && colon < end) {
                String field = text.substring(at, colon).trim().toLowerCase(Locale.ROOT);
                if (field.equals("flags") || field.equals("features")) {
                    List<String> out = new ArrayList<>();
                    int i = colon + 1;
                    while (i < end) {
                        while (i < end && Character.isWhitespace(text.charAt(i))) {
                            i++;
                        }
                        int start = i;
                        while (i < end && !Character.isWhitespace(text.charAt(i))) {
                            i++;
                        }
                        if (i > start && DISPATCH_FEATURES.contains(text.substring(start, i))) {
                            out.add(text.substring(start, i));
                        }
                    }
                    return out;
                }
            }
            at = end + 1;
        }
        throw new IOException(cpuinfo + ": no 'flags' or 'Features' line; cannot tell which kernels ONNX Runtime would choose");
    }

    /** Why a form made under {@code stored} must not be used under this key, or empty when it may. */
    Optional<String> mismatch(OrtFormKey stored) {
        if (!ortVersion.equals(stored.ortVersion)) {
            return Optional.of("made by ONNX Runtime " + stored.ortVersion + ", running " + ortVersion);
        }
        return processorMismatch(stored);
    }

    /** Why a form made under {@code stored} does not fit this processor and optimization level (the ORT version aside), or empty. */
    Optional<String> processorMismatch(OrtFormKey stored) {
        if (!arch.equals(stored.arch)) {
            return Optional.of("made on " + stored.arch + ", running on " + arch);
        }
        if (!optimization.equals(stored.optimization)) {
            return Optional.of("made with optimization level " + stored.optimization + ", asked for " + optimization);
        }
        if (!isa.equals(stored.isa)) {
            Set<String> missing = new TreeSet<>(stored.isa);
            missing.removeAll(isa);
            Set<String> extra = new TreeSet<>(isa);
            extra.removeAll(stored.isa);
            return Optional.of("made for other CPU features (this CPU lacks " + missing + ", has besides " + extra + ")");
        }
        return Optional.empty();
    }

    /** A short name for the form's directory: the first 16 hex digits of the key's SHA-256. */
    public String id() {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(toJson());
            return HexFormat.of().formatHex(d, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("every JDK has SHA-256", e);
        }
    }

    /** {@code key.json}'s bytes. */
    public byte[] toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("format", FORMAT);
        o.addProperty("ort", ortVersion);
        o.addProperty("arch", arch);
        JsonArray a = new JsonArray();
        isa.forEach(a::add);
        o.add("isa", a);
        o.addProperty("optimization", optimization);
        return (o + "\n").getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Parses {@code key.json}; {@code where} names it in errors. Read with Gson's streaming reader: its
     * tree parser would load some fifty classes into every fresh JVM that loads a form.
     */
    static OrtFormKey parse(byte[] json, String where) throws IOException {
        Map<String, String> fields = new HashMap<>();
        List<String> isa = null;
        try (JsonReader r = new JsonReader(new StringReader(new String(json, StandardCharsets.UTF_8)))) {
            r.beginObject();
            while (r.hasNext()) {
                String name = r.nextName();
                if (name.equals("isa")) {
                    isa = new ArrayList<>();
                    r.beginArray();
                    while (r.hasNext()) {
                        isa.add(r.nextString());
                    }
                    r.endArray();
                } else if (r.peek() == JsonToken.STRING) {
                    fields.put(name, r.nextString());
                } else {
                    r.skipValue();
                }
            }
            r.endObject();
        } catch (IOException | IllegalStateException | NumberFormatException e) {
            throw new IOException(where + ": not a valid ORT form key (" + e.getMessage() + ")", e);
        }
        if (!FORMAT.equals(fields.get("format"))) {
            throw new IOException(where + ": field 'format' is " + (fields.containsKey("format") ? "\"" + fields.get("format") + "\"" : "missing")
                    + ", expected \"" + FORMAT + "\"");
        }
        if (isa == null) {
            throw new IOException(where + ": field 'isa' missing, expected an array of strings");
        }
        return new OrtFormKey(field(fields, "ort", where), field(fields, "arch", where), isa, field(fields, "optimization", where));
    }

    private static String field(Map<String, String> fields, String name, String where) throws IOException {
        String v = fields.get(name);
        if (v == null) {
            throw new IOException(where + ": field '" + name + "' missing, expected a string");
        }
        return v;
    }
}
