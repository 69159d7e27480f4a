package dev.daxload.djl;

import dev.daxload.manifest.DType;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.StandardOpenOption;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.LoggerFactory;

/**
 * Views of a whole load made with one JNI call: a small C library of daxload's own
 * ({@code src/main/native/daxload_views.c}, built with the loader and shipped in its jar) that calls
 * libtorch's C shim ({@code aoti_torch_create_tensor_from_blob}, the function {@link Aoti} binds with FFM)
 * once per tensor, found with {@code dlsym} in the {@code libtorch_cpu.so} DJL already loaded.
 *
 * <p>Why: in a fresh JVM the FFM linker's set-up costs 40-50 ms of CPU before the first downcall, and
 * DJL's own JNI binding ({@link JniBlobs}) has no code for BF16 (nor I16, U16, U32, U64, the FP8 types):
 * it aborts the JVM for them. Loading this library, asking it for libtorch's dtype codes and one call
 * for every tensor of a load cost about a millisecond, for every dtype libtorch has, at any size.
 *
 * <p>The library needs only libc; it is built for linux-x86_64. Elsewhere, or if it cannot be loaded
 * (a {@code noexec} temporary directory), {@link #get()} is empty, and views go through DJL's binding
 * and {@link Aoti}, as before (logged once); {@code -Ddaxload.views.native=false} asks for that on purpose.
 */
final class NativeViews {
    /** Marks a dtype libtorch has no code for in {@link #codes(String[])}'s answer. */
    private static final int NO_CODE = Integer.MIN_VALUE;
    private static final String RESOURCE = "native/linux-x86_64/libdaxload_views.so";
    /**
     * The system property that turns the library off ({@code -Ddaxload.views.native=false}): views then
     * go as where it is absent, through DJL's binding and the FFM shim.
     */
    static final String PROPERTY = "daxload.views.native";
    private static volatile Optional<NativeViews> instance;
    private static volatile boolean enabled = !"false".equalsIgnoreCase(System.getProperty(PROPERTY));

    private final Map<DType, Integer> codes;
    private final AtomicLong made = new AtomicLong(); // for tests to see which route made views

    private NativeViews(Map<DType, Integer> codes) {
        this.codes = codes;
    }

    /**
     * The library, bound to the loaded libtorch (loading the PyTorch engine if needed), or empty where
     * it is not available here.
     */
    static Optional<NativeViews> get() {
        if (!enabled) {
            return Optional.empty();
        }
        Optional<NativeViews> n = instance;
        if (n == null) {
            synchronized (NativeViews.class) {
                n = instance;
                if (n == null) {
                    n = instance = load();
                }
            }
        }
        return n;
    }

    /**
     * Turns the library on or off for this process from now on (what {@link #PROPERTY} does at start-up):
     * for the tests that check the fallback routes. Views made already keep working either way.
     */
    static void enable(boolean on) {
        enabled = on;
    }

    private static Optional<NativeViews> load() {
        String why;
        if (!System.getProperty("os.name", "").equals("Linux") || !System.getProperty("os.arch", "").equals("amd64")) {
            why = "built for linux-x86_64 only, this is " + System.getProperty("os.name") + "/" + System.getProperty("os.arch");
        } else {
            try {
                Path libtorch = Libtorch.locate(); // loads the engine first, so the library is the loaded copy
                loadLibrary();
                String error = bind(libtorch.toString());
                if (error == null) {
                    return Optional.of(new NativeViews(askCodes()));
                }
                why = libtorch + ": " + error;
            } catch (IOException | RuntimeException | LinkageError e) {
                why = e.toString();
            }
        }
        LoggerFactory.getLogger(NativeViews.class).info("daxload's native views library is not available ({});"
                + " views go through DJL's from_blob binding and libtorch's C shim over FFM", why);
        return Optional.empty();
    }

    /** Copies the library out of the jar (the dynamic loader needs a file) and loads it; the file goes at once. */
    private static void loadLibrary() throws IOException {
        byte[] library;
        try (InputStream in = NativeViews.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IOException("resource " + RESOURCE + " is not in daxload's loader jar");
            }
            library = in.readAllBytes();
        }
        // Named after the process and the clock rather than by Files.createTempFile, whose SecureRandom costs
        // 7 ms of a fresh JVM's start; CREATE_NEW (O_EXCL) still refuses a name that exists, a link included.
        Path dir = Path.of(System.getProperty("java.io.tmpdir"));
        for (int attempt = 0; ; attempt++) {
            Path tmp = dir.resolve("daxload-views-" + ProcessHandle.current().pid() + "-" + System.nanoTime() + ".so");
            try {
                Files.write(tmp, library, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            } catch (FileAlreadyExistsException e) {
                if (attempt < 10) {
                    continue;
                }
                throw e;
            }
            try {
                System.load(tmp.toAbsolutePath().toString());
                return;
            } finally {
                Files.deleteIfExists(tmp); // a loaded library stays mapped; nothing is left behind in the directory
            }
        }
    }

    private static Map<DType, Integer> askCodes() {
        Map<DType, String> names = Libtorch.dtypeNames();
        DType[] types = names.keySet().toArray(DType[]::new);
        String[] functions = new String[types.length];
        for (int i = 0; i < types.length; i++) {
            functions[i] = "aoti_torch_dtype_" + names.get(types[i]);
        }
        int[] answer = codes(functions);
        Map<DType, Integer> m = new EnumMap<>(DType.class);
        for (int i = 0; i < types.length; i++) {
            if (answer[i] != NO_CODE) { // an older libtorch lacks the newer dtypes (uint16/32/64 came in 2.3)
                m.put(types[i], answer[i]);
            }
        }
        return Collections.unmodifiableMap(m);
    }

    /** libtorch's code for {@code dtype}, or empty if it has none (block-quantized types, or too old a libtorch). */
    Optional<Integer> code(DType dtype) {
        return Optional.ofNullable(codes.get(dtype));
    }

    /** Every dtype this libtorch has a code for, with the code. */
    Map<DType, Integer> codes() {
        return codes;
    }

    /**
     * Contiguous row-major CPU tensors over native memory, which libtorch neither copies nor frees: the
     * {@code i}-th at {@code addresses[i]}, of dtype code {@code dtypes[i]} and shape {@code shapes[i]}.
     * The caller keeps the memory mapped while the tensors live.
     *
     * @return the {@code at::Tensor*} handles, in order
     * @throws IllegalStateException naming the tensor (by {@code names}) libtorch refused; none is left allocated
     */
    long[] fromBlobs(long[] addresses, long[][] shapes, int[] dtypes, String[] names) {
        int n = addresses.length;
        int total = 0;
        int[] ranks = new int[n];
        for (int i = 0; i < n; i++) {
            ranks[i] = shapes[i].length;
            total += ranks[i];
        }
        long[] sizes = new long[total];
        int at = 0;
        for (long[] s : shapes) {
            System.arraycopy(s, 0, sizes, at, s.length);
            at += s.length;
        }
        long[] handles = new long[n];
        int failed = fromBlobs(addresses, sizes, ranks, dtypes, handles);
        if (failed == -2) {
            throw new OutOfMemoryError("daxload's native views: no native memory for the arguments of " + n + " tensors");
        }
        if (failed >= 0) {
            deleteAll(handles);
            throw new IllegalStateException("tensor '" + names[failed] + "': aoti_torch_create_tensor_from_blob failed"
                    + " (libtorch printed why on stderr)");
        }
        made.addAndGet(n);
        return handles;
    }

    /** How many tensors {@link #fromBlobs} has made in this process. */
    long made() {
        return made.get();
    }

    /** {@code tensor.data_ptr()} of an {@code at::Tensor*}. */
    long dataPtr(long handle) {
        long[] out = new long[1];
        int rc = dataPtr(handle, out);
        if (rc != 0) {
            throw new IllegalStateException("aoti_torch_get_data_ptr failed (" + rc + ")");
        }
        return out[0];
    }

    /** Frees handles that never reached a {@code PtNDArray} (which would otherwise own and free them); skips 0. */
    void delete(long... handles) {
        deleteAll(handles);
    }

    private static native String bind(String libtorchPath);

    private static native int[] codes(String[] functions);

    private static native int fromBlobs(long[] addresses, long[] sizes, int[] ranks, int[] dtypes, long[] handles);

    private static native void deleteAll(long[] handles);

    private static native int dataPtr(long handle, long[] out);
}
