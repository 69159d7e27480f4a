package dev.daxload.djl;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * Whether memory is mapped writable, from {@code /proc/self/maps}.
 *
 * <p>Why it matters: a PyTorch in-place op ({@code addi}, {@code muli}, an optimizer step) on a tensor
 * over a read-only mapping is a SIGSEGV that kills the JVM, not an exception. A copy-on-write mapping
 * ({@code MAP_PRIVATE|PROT_WRITE}) makes the same op copy one page privately. Views are refused over
 * memory that is not writable, so the crash cannot happen later, far from its cause.
 *
 * <p>The answer is remembered per memory scope (one per image mapping), so making every view of a
 * model reads the maps file once.
 */
final class WritableMemory {
    private static final Map<MemorySegment.Scope, long[]> KNOWN = new WeakHashMap<>(); // scope -> writable [start, end)

    private static final MemorySegment.Scope GLOBAL = MemorySegment.NULL.scope();

    private WritableMemory() {}

    static boolean isWritable(MemorySegment segment) {
        if (segment.isReadOnly()) {
            return false;
        }
        if (segment.byteSize() == 0) {
            return true; // nothing to write: an empty tensor's pointer is never dereferenced
        }
        long start = segment.address();
        long end = start + segment.byteSize();
        synchronized (KNOWN) {
            long[] range = KNOWN.get(segment.scope()); // never set for GLOBAL
            if (range != null && range[0] <= start && end <= range[1]) {
                return true;
            }
        }
        long[] range = writableRangeAround(start, end);
        if (range == null) {
            return false;
        }
        if (!segment.scope().equals(GLOBAL)) { // global memory has no lifetime to tie the answer to
            synchronized (KNOWN) {
                KNOWN.put(segment.scope(), range);
            }
        }
        return true;
    }

    /**
     * The run of adjacent writable mappings that holds {@code [start, end)}, or null if some byte of it
     * is not mapped writable. A single mmap can show as several lines (after madvise, partial
     * mprotect), hence the run.
     */
    private static long[] writableRangeAround(long start, long end) {
        List<String> lines;
        try {
            lines = Files.readAllLines(Path.of("/proc/self/maps"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read /proc/self/maps to check the mapping is writable", e);
        }
        long runStart = -1;
        long runEnd = -1;
        for (String line : lines) {
            // "7f12a0000000-7f12a8000000 rw-p 00000000 fd:01 1234 /path"
            int dash = line.indexOf('-');
            int space = line.indexOf(' ');
            if (dash < 0 || space < dash) {
                continue;
            }
            long lo = Long.parseUnsignedLong(line, 0, dash, 16);
            long hi = Long.parseUnsignedLong(line, dash + 1, space, 16);
            boolean writable = line.length() > space + 2 && line.charAt(space + 2) == 'w';
            if (!writable) {
                runStart = -1;
                continue;
            }
            if (runStart < 0 || lo != runEnd) {
                runStart = lo;
            }
            runEnd = hi;
            if (Long.compareUnsigned(runStart, start) <= 0 && Long.compareUnsigned(end, runEnd) <= 0) {
                return new long[] {runStart, runEnd};
            }
            if (Long.compareUnsigned(lo, end) >= 0) {
                return null;
            }
        }
        return null;
    }
}
