package dev.daxload.packager.model;

import dev.daxload.packager.image.ImageTree.RegularFile;
import dev.daxload.packager.image.ImageWriter;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Keeps the CRC32C of each tensor file, which the image writer takes while the bytes pass through
 * memory on their way into the image (so it covers what the image holds, conversions included).
 */
final class Checksummer implements ImageWriter.FileWrittenListener {
    private final Map<RegularFile, Integer> results = new IdentityHashMap<>();
    private final Map<RegularFile, Boolean> wanted;

    /** @param wanted the files to checksum; others are ignored */
    Checksummer(Map<RegularFile, Boolean> wanted) {
        this.wanted = wanted;
    }

    @Override
    public boolean wantsChecksum(RegularFile file) {
        return wanted.containsKey(file);
    }

    @Override
    public synchronized void written(RegularFile file, long offset, long size, int crc32c) {
        if (wanted.containsKey(file)) {
            results.put(file, crc32c);
        }
    }

    /** CRC32C of a file; 0 for an empty one, which is never written. */
    synchronized int crcOf(RegularFile file) {
        Integer crc = results.get(file);
        if (crc == null && wanted.containsKey(file) && file.content().size() > 0) {
            throw new IllegalStateException("the manifest was asked for the CRC32C of a tensor not written yet");
        }
        return crc == null ? 0 : crc;
    }
}
