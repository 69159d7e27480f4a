package dev.daxload.registry;

/** Told how far a transfer is: bytes done of the total. Called from the transferring thread. */
@FunctionalInterface
public interface Progress {
    /** Nothing to tell. */
    Progress NONE = (done, total) -> { };

    void bytes(long done, long total);
}
