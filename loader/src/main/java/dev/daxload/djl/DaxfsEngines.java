package dev.daxload.djl;

import ai.djl.engine.Engine;
import dev.daxload.djl.onnx.internal.OrtEngineHeadStart;

/**
 * DJL's ONNX Runtime engine started the way a {@code daxfs:} load starts it, for a program that wants the
 * engine before (or beside) its first load, such as a server that logs its start-up phases:
 *
 * <pre>{@code
 * DaxfsEngines.beginOnnxRuntime();           // returns at once; the engine starts on a thread of its own
 * ... map the image, load the tokenizer ...
 * Engine ort = DaxfsEngines.onnxRuntime();   // waits for that start
 * }</pre>
 *
 * <p>Starting it this way rather than with {@code Engine.getEngine("OnnxRuntime")} matters in a fresh
 * process: ORT's native libraries then come from the per-host cache daxload keeps (extracted once, one
 * page-cache copy for every process) instead of being extracted into a temporary directory by every JVM
 * (about 90 ms of CPU and a private 13 MiB copy each), which can only be arranged before ORT's classes
 * load. A {@code daxfs:} load of an ONNX model joins a start begun here.
 */
public final class DaxfsEngines {
    private DaxfsEngines() {}

    /**
     * Begins starting ONNX Runtime's engine on a daemon thread, unless a start was begun already or
     * {@code -Ddaxload.ortHeadStart=false} (then {@link #onnxRuntime()} starts it on its caller's thread).
     */
    public static void beginOnnxRuntime() {
        OrtEngineHeadStart.begin();
    }

    /**
     * ONNX Runtime's engine: the start begun by {@link #beginOnnxRuntime()} (or by a load) waited for, or
     * started on this thread where none was begun.
     *
     * @throws ai.djl.engine.EngineException or whatever else the start threw, on the thread it ran on
     */
    public static Engine onnxRuntime() {
        return OrtEngineHeadStart.engine();
    }
}
