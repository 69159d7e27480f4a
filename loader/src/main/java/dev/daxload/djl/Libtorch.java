package dev.daxload.djl;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.LibUtils;
import dev.daxload.manifest.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/** Where the {@code libtorch_cpu.so} that DJL's PyTorch engine loaded lies: what {@link Aoti} and {@link NativeViews} bind to. */
final class Libtorch {
    /** The library that exports libtorch's C shim ({@code aoti_torch_*}; {@code nm -D}), not {@code libtorch.so}. */
    static final String LIBRARY = System.mapLibraryName("torch_cpu");

    private static final Map<DType, String> DTYPE_NAMES = names();

    private Libtorch() {}

    /** daxload's dtypes that have a libtorch name, with the name ({@code bfloat16}, as in {@code aoti_torch_dtype_bfloat16}). */
    static Map<DType, String> dtypeNames() {
        return DTYPE_NAMES;
    }

    private static Map<DType, String> names() {
        Map<DType, String> m = new EnumMap<>(DType.class);
        for (DType d : DType.values()) {
            d.torchName().ifPresent(n -> m.put(d, n));
        }
        return Collections.unmodifiableMap(m);
    }

    /**
     * Loads the PyTorch engine if it is not yet, then finds its {@code libtorch_cpu.so}: in DJL's libtorch
     * directory, or, when a {@code PYTORCH_LIBRARY_PATH} override put it elsewhere, wherever
     * {@code /proc/self/maps} says.
     */
    static Path locate() {
        Engine.getEngine("PyTorch"); // makes DJL load libtorch, so a lookup by path finds the loaded copy
        List<String> tried = new ArrayList<>();
        try {
            Path p = Path.of(LibUtils.getLibtorchPath()).resolve(LIBRARY);
            if (Files.isRegularFile(p)) {
                return p;
            }
            tried.add(p.toString());
        } catch (RuntimeException e) {
            tried.add("DJL's libtorch path (" + e + ")");
        }
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
                int slash = line.indexOf('/');
                if (slash > 0 && line.endsWith("/" + LIBRARY)) {
                    return Path.of(line.substring(slash));
                }
            }
            tried.add("/proc/self/maps");
        } catch (IOException e) {
            tried.add("/proc/self/maps (" + e.getMessage() + ")");
        }
        throw new IllegalStateException("PyTorch engine is loaded but " + LIBRARY + " was not found; looked in " + tried);
    }
}
