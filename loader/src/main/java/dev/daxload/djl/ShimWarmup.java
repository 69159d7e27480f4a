package dev.daxload.djl;

import dev.daxload.manifest.DType;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.LoggerFactory;

/**
 * Links libtorch's C shim ({@link Aoti}) and asks it for the dtype codes a load needs, on a thread of
 * its own, so that in a fresh JVM the FFM linker's set-up (tens of milliseconds) overlaps the views
 * made through DJL's JNI binding. Only a head start: whoever needs the shim calls {@link Aoti#get()},
 * which waits for a link in progress, and gets the same errors the warm-up would have met. Used only on
 * the fallback route, where {@link NativeViews} cannot load.
 */
final class ShimWarmup {
    private static final AtomicBoolean LOGGED = new AtomicBoolean();

    private ShimWarmup() {}

    /** Starts linking the shim for {@code dtypes} (a daemon thread; returns at once). */
    static void start(Set<DType> dtypes) {
        if (LOGGED.compareAndSet(false, true)) {
            // The fallback, said once per process: these views cost an FFM link that the common dtypes do not.
            LoggerFactory.getLogger(PtTensorViews.class).info(
                    "views of {} tensors (or of tensors over 2 GiB) go through libtorch's C shim (FFM): daxload's native"
                    + " views library is not loaded, and DJL's from_blob binding takes F32 F64 F16 I64 I32 I8 U8 BOOL under"
                    + " 2 GiB only", dtypes);
        }
        if (Aoti.linked()) {
            return; // a later load: the linker's set-up is paid; a new dtype's code is one more small downcall
        }
        Set<DType> wanted = Set.copyOf(dtypes);
        Thread.ofPlatform().daemon().name("daxload-shim-link").start(() -> {
            try {
                Aoti shim = Aoti.get();
                wanted.forEach(shim::dtype);
            } catch (RuntimeException | Error e) {
                // Not ours to report: the caller's own Aoti.get() meets the same failure and throws it.
            }
        });
    }
}
