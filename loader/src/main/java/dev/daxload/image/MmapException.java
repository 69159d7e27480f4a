package dev.daxload.image;

import java.io.IOException;

/** An {@code mmap(2)} the kernel refused, with its {@code errno}, so that callers can say why. */
public final class MmapException extends IOException {
    private final int errno;

    /**
     * @param message what was mapped and the errno's name
     * @param errno the kernel's errno
     */
    public MmapException(String message, int errno) {
        super(message);
        this.errno = errno;
    }

    /** @return the kernel's errno (22 for EINVAL, ...) */
    public int errno() {
        return errno;
    }
}
