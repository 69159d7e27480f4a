package dev.daxload.packager.image;

/** Told how far a long write has come. Called from the writing thread, after each file. */
@FunctionalInterface
public interface ProgressListener {
    ProgressListener NONE = (done, total) -> {};

    /**
     * @param bytesDone file bytes written so far
     * @param bytesTotal file bytes to write in all
     */
    void progress(long bytesDone, long bytesTotal);
}
