package dev.daxload.bridge.cuda;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.function.IntSupplier;

/**
 * Releases acquired driver resources in reverse order: on an error path everything acquired so
 * far, on close everything. A failing release does not stop the others; its failure is reported
 * (suppressed into the primary exception, or thrown once all ran).
 */
final class Undo {
    private record Step(String what, IntSupplier release) {}

    private final CuApi api;
    private final Deque<Step> steps = new ArrayDeque<>();

    Undo(CuApi api) {
        this.api = api;
    }

    /** Registers a release to run later; {@code release} returns a {@code CUresult}. */
    void push(String what, IntSupplier release) {
        steps.push(new Step(what, release));
    }

    /** Runs every release, newest first, adding failures to {@code primary}. */
    void runAll(Throwable primary) {
        while (!steps.isEmpty()) {
            Step s = steps.pop();
            try {
                int r = s.release().getAsInt();
                if (r != CuApi.CUDA_SUCCESS) {
                    primary.addSuppressed(new CudaException(s.what(), r, api.errorName(r), null));
                }
            } catch (RuntimeException e) {
                primary.addSuppressed(e);
            }
        }
    }

    /**
     * Runs every release, newest first.
     *
     * @throws CudaException the first failure, with later ones suppressed, after all ran
     */
    void runAll() throws CudaException {
        CudaException first = null;
        while (!steps.isEmpty()) {
            Step s = steps.pop();
            int r;
            try {
                r = s.release().getAsInt();
            } catch (RuntimeException e) {
                r = 999;
            }
            if (r != CuApi.CUDA_SUCCESS) {
                CudaException e = new CudaException(s.what(), r, api.errorName(r), null);
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** Forgets every registered release: ownership passed to an object that will release them. */
    void disarm() {
        steps.clear();
    }
}
