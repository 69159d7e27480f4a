package dev.daxload.djl.onnx.internal;

import ai.djl.engine.Engine;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * DJL's ONNX Runtime engine started on a thread of its own while the load reads what it needs of the image
 * (ORT's form, the side files) and writes its files. In a fresh JVM the engine's start (loading ORT's 20 MB
 * native library, making its environment: 35-48 ms) and daxload's own work for a load (15-20 ms with the AOT
 * cache, more without) are each on the way to the first session; one after the other they add up, on two
 * threads they overlap where a core is free (on 2 busy cores measured level, docs/benchmarks.md).
 *
 * <p>Only a head start: whoever needs the engine calls {@link #engine()}, which waits for a start begun
 * here or starts it itself, and sees the same failure ORT's start would have thrown on its own thread.
 * {@link OrtNativeLibraries#useCache()} runs first either way (it must precede ORT's classes).
 */
public final class OrtEngineHeadStart {
    private static final Logger LOG = LoggerFactory.getLogger(OrtEngineHeadStart.class);
    /** Set to {@code false} to start the engine on the loading thread, when it is needed (no helper thread). */
    public static final String SWITCH = "daxload.ortHeadStart";
    private static Start started; // guarded by OrtEngineHeadStart.class

    /**
     * One start on its thread, and how it ended. A plain thread and join, not a CompletableFuture: in a fresh JVM
     * that class brings ForkJoinPool and some thirty more classes onto the path this class is meant to shorten.
     */
    private static final class Start extends Thread {
        private volatile Throwable failure;

        Start() {
            // The threads ONNX Runtime makes while its environment starts inherit this name in top and ps:
            // they are ORT's for as long as the process runs, this thread's work is over in tens of milliseconds.
            super("onnxruntime");
            setDaemon(true);
        }

        @Override
        public void run() {
            long t0 = System.nanoTime();
            try {
                startEngine();
                LOG.debug("daxfs: ONNX Runtime's engine started ahead in {} us", (System.nanoTime() - t0) / 1000);
            } catch (Throwable t) {
                failure = t; // rethrown to the thread that needs the engine
            }
        }
    }

    private OrtEngineHeadStart() {}

    /** Starts the engine on a daemon thread, unless a start was begun already; returns at once. */
    public static void begin() {
        if (!Boolean.parseBoolean(System.getProperty(SWITCH, "true"))) {
            return;
        }
        synchronized (OrtEngineHeadStart.class) {
            if (started != null) {
                return;
            }
            started = new Start();
            started.start();
        }
    }

    /**
     * DJL's ONNX Runtime engine: the head start's, waited for, or started on this thread where none was
     * begun. A start that failed throws here what it threw there.
     */
    public static Engine engine() {
        Start s;
        synchronized (OrtEngineHeadStart.class) {
            s = started;
        }
        if (s == null) {
            startEngine();
        } else {
            boolean interrupted = false;
            while (s.isAlive()) {
                try {
                    s.join();
                } catch (InterruptedException e) {
                    interrupted = true; // the engine is needed either way; the interrupt is kept for the caller
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            Throwable failure = s.failure;
            if (failure instanceof RuntimeException r) {
                throw r;
            }
            if (failure instanceof Error err) {
                throw err;
            }
        }
        return Engine.getEngine("OnnxRuntime");
    }

    private static void startEngine() {
        OrtNativeLibraries.useCache(); // before ORT's classes load their library
        Engine.getEngine("OnnxRuntime"); }
}
