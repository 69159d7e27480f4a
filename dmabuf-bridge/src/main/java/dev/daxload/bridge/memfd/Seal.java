package dev.daxload.bridge.memfd;

import dev.daxload.bridge.linux.LinuxConstants;

/** The memfd seals ({@code fcntl(F_ADD_SEALS)}): each forbids one kind of change, for good. */
public enum Seal {
    /** No more seals can be added. */
    SEAL(LinuxConstants.F_SEAL_SEAL),
    /** The file cannot shrink; udmabuf requires this, since it pins the pages. */
    SHRINK(LinuxConstants.F_SEAL_SHRINK),
    /** The file cannot grow. */
    GROW(LinuxConstants.F_SEAL_GROW),
    /** The contents cannot change (fails while a writable shared mapping exists). */
    WRITE(LinuxConstants.F_SEAL_WRITE);

    final int bit;

    Seal(long bit) {
        this.bit = (int) bit;
    }

    /** @return the {@code F_SEAL_*} bit */
    public int bit() {
        return bit;
    }
}
