package dev.daxload.djl;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.LibUtils;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Where the {@code libtorch_cpu.so} that DJL's PyTorch engine loaded lies: what {@link Aoti} and {@link NativeViews} bind to. */
final class Libtorch {
    /** The library that exports libtorch's C shim ({@code aoti_torch_*}; {@code nm -D}), not {@code libtorch.so}. */
    static final String LIBRARY = System.mapLibraryName("torch_cpu");

    private Libtorch() {}

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
