package dev.daxload.model;

/**
 * The weights of a model failed a checksum check and are not served any more: the message names the
 * model, the image and the first tensor whose bytes do not match the manifest.
 */
public final class CorruptWeightsException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    CorruptWeightsException(String message) {
        super(message);
    }
}
