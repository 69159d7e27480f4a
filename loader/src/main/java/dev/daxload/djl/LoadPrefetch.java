package dev.daxload.djl;

import ai.djl.engine.Engine;
import dev.daxload.djl.onnx.OrtLoadPlan;
import dev.daxload.djl.onnx.OrtNativeLibraries;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The work of a {@code daxfs:} load that does not depend on what DJL does in between, started when the
 * repository is made (DJL makes it in {@code Criteria.build}) on two background threads, so that it
 * runs beside ONNX Runtime's engine start instead of before and after it:
 *
 * <ul>
 *   <li>ONNX Runtime's engine, created by DJL's own {@code Engine.getEngine} (loading its native library
 *       and environment takes ~200 ms in a fresh JVM), when the engine is on the class path: every
 *       {@code daxfs:} load creates it anyway before ORT could be used ({@link ModelBinder});
 *   <li>the image opened, the model's manifest read, its side files written and, for an ONNX model,
 *       the part of the {@link OrtLoadPlan} that needs no ORT (the image's forms read, checked against
 *       this processor, the chosen form's graph written).
 * </ul>
 *
 * <p>Each result is taken by the first load that asks for that model; a load that finds nothing
 * prepared, or a failed preparation, does the work itself, so errors surface where they did (a missing
 * image is still a {@code ModelNotFoundException} from {@code loadModel()}). What no load took is
 * released by {@link #release()} (the repository's cleaner; side files also go at JVM exit).
 */
final class LoadPrefetch {
    private static final Logger LOG = LoggerFactory.getLogger(LoadPrefetch.class);

    /** What was prepared for one model: its side-file directory and, for ONNX Runtime, its prepared plan (or null). */
    record Prepared(String model, Path sideFiles, OrtLoadPlan ortPlan) {}

    private final CompletableFuture<Prepared> prepared = new CompletableFuture<>();
    private boolean sideFilesTaken; // guarded by this
    private boolean planTaken; // guarded by this
    private boolean released; // guarded by this

    private LoadPrefetch() {}

    /**
     * Starts ORT's engine (when {@code startOrt}) and {@code prepare} on daemon threads of their own.
     *
     * @param prepare opens the image and prepares one model; returns null when there is nothing to
     *     prepare (an image of several models and none named)
     */
    static LoadPrefetch start(boolean startOrt, Callable<Prepared> prepare) {
        LoadPrefetch p = new LoadPrefetch();
        if (startOrt) {
            Thread.ofPlatform().daemon().name("daxload-ort-engine").start(() -> {
                try {
                    OrtNativeLibraries.useCache(); // ORT's library from the per-host copy rather than inflated again
                    Engine.getEngine("OnnxRuntime");
                } catch (RuntimeException | Error e) {
                    LOG.debug("daxfs: starting ONNX Runtime's engine ahead of the load failed ({}); the load will say why", e.toString());
                }
            });
        }
        Thread.ofPlatform().daemon().name("daxload-prefetch").start(() -> {
            try {
                p.prepared.complete(prepare.call());
            } catch (Exception | Error e) {
                LOG.debug("daxfs: preparing the load ahead failed ({}); the load does it and says why", e.toString());
                p.prepared.complete(null);
            }
            synchronized (p) {
                if (p.released) {
                    p.release(); // released while preparing: what was just made goes too
                }
            }
        });
        return p;
    }

    /** A prefetch that prepares nothing. */
    static LoadPrefetch none() {
        LoadPrefetch p = new LoadPrefetch();
        p.prepared.complete(null);
        return p;
    }

    /** The side-file directory prepared for {@code model} (waiting for it), once; else null. */
    Path takeSideFiles(String model) {
        Prepared r = prepared.join();
        synchronized (this) {
            if (r == null || released || sideFilesTaken || !r.model().equals(model)) {
                return null;
            }
            sideFilesTaken = true;
            return r.sideFiles();
        }
    }

    /** The ORT plan prepared for {@code model} (waiting for it), once, not yet {@link OrtLoadPlan#confirm()}ed; else null. */
    OrtLoadPlan takeOrtPlan(String model) {
        Prepared r = prepared.join();
        synchronized (this) {
            if (r == null || released || planTaken || r.ortPlan() == null || !r.model().equals(model)) {
                return null;
            }
            planTaken = true;
            return r.ortPlan();
        }
    }

    /** Deletes the side files and closes the plan that no load took (now, or when their preparation ends). */
    synchronized void release() {
        released = true;
        Prepared r = prepared.getNow(null);
        if (r == null) {
            return;
        }
        if (!sideFilesTaken && r.sideFiles() != null) {
            sideFilesTaken = true;
            try {
                SideFiles.delete(r.sideFiles());
            } catch (RuntimeException e) {
                LOG.warn("daxfs: {}", e.getMessage()); // gone at JVM exit at the latest
            }
        }
        if (!planTaken && r.ortPlan() != null) {
            planTaken = true;
            r.ortPlan().close();
        }
    }
}
