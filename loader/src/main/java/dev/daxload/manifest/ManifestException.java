package dev.daxload.manifest;

import java.io.IOException;

/** A manifest is malformed or disagrees with the image it sits in. The message says where and which field. */
public final class ManifestException extends IOException {
    private static final long serialVersionUID = 1L;

    ManifestException(String message) {
        super(message);
    }

    ManifestException(String message, Throwable cause) {
        super(message, cause);
    }
}
