package dev.daxload.registry;

import java.io.IOException;

/**
 * A registry operation that failed: the message names the reference, the digest where one is involved, and what
 * the registry or the content did that was not expected.
 */
public class RegistryException extends IOException {
    private final int status;

    public RegistryException(String message) {
        this(message, 0, null);
    }

    public RegistryException(String message, Throwable cause) {
        this(message, 0, cause);
    }

    RegistryException(String message, int status, Throwable cause) {
        super(message, cause);
        this.status = status;
    }

    /** The HTTP status that ended the operation, or 0 when it was not an HTTP answer. */
    public int status() {
        return status;
    }
}
