package dev.daxload.cli;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;

/**
 * ONNX Runtime's own log, for the commands that run it (prepack, pack-model --ort-prepack): errors only.
 * Its default level prints warnings to the terminal (in colour) for what daxload asks of it on purpose,
 * such as saving an optimized graph for this machine; a failure still reaches the user as an exception.
 * The level is the environment's, fixed by whoever makes it first: call this before anything runs ORT.
 */
final class OrtLogging {
    private OrtLogging() {}

    static void errorsOnly() throws OrtException {
        OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "daxload");
    }
}
