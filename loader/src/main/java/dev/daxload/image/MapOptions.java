package dev.daxload.image;

/**
 * How an image is mapped.
 *
 * @param sharing see {@link Sharing}
 * @param populate fault every page in at open (slower open, no page faults later); on a private
 *     mapping this uses {@code MADV_POPULATE_READ}, which keeps pages shared, rather than
 *     {@code MAP_POPULATE}, which would copy every page
 * @param hugePages ask for transparent huge pages ({@code MADV_HUGEPAGE}) where the source allows;
 *     ignored where it does not
 */
public record MapOptions(Sharing sharing, boolean populate, boolean hugePages) {

    /** Whether writes through the mapping are possible, and who sees them. */
    public enum Sharing {
        /** {@code PROT_READ, MAP_SHARED}: a write is a fault; for inspection and checksums. */
        READ_ONLY,
        /**
         * {@code PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_NORESERVE}: pages stay the shared page-cache (or
         * DAX) pages until written; a write copies that one page for this process only. What tensor
         * views use, so that an in-place op on a weight neither crashes the JVM nor changes the image
         * other processes see. Devices that cannot be mapped privately (device DAX) fall back to
         * {@link #READ_ONLY}.
         */
        COPY_ON_WRITE
    }

    /** Read-only and shared, no populate, no huge pages: the default for tools. */
    public static MapOptions readOnly() {
        return new MapOptions(Sharing.READ_ONLY, false, false);
    }

    /** Copy-on-write: the default for tensor views. */
    public static MapOptions copyOnWrite() {
        return new MapOptions(Sharing.COPY_ON_WRITE, false, false);
    }

    public MapOptions withPopulate(boolean populate) {
        return new MapOptions(sharing, populate, hugePages);
    }

    public MapOptions withHugePages(boolean hugePages) {
        return new MapOptions(sharing, populate, hugePages);
    }
}
