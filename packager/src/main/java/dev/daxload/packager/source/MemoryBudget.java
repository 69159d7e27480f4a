package dev.daxload.packager.source;

import java.nio.file.Path;

/**
 * The heap that what a source declares may take: a quarter of the JVM's maximum heap. Readers check a
 * declared length against it before allocating for it (a safetensors header, a sharded index, GGUF
 * strings and names together), so a sound but large source ends in a message naming the file and the
 * field rather than an OutOfMemoryError; the format's own limits still apply on top.
 *
 * <p>The factor is the heap a parsed byte costs: the bytes, the decoded string, the JSON tree.
 */
public final class MemoryBudget {
    private MemoryBudget() {}

    /** Bytes of heap that declared contents may take in this JVM. */
    public static long bytes() {
        return Runtime.getRuntime().maxMemory() / 4;
    }

    /**
     * Throws unless {@code declared} bytes, at {@code heapPerByte} bytes of heap each, fit the budget.
     *
     * @param field what declared the length, as the format names it
     */
    static void require(Path file, long offset, String field, long declared, int heapPerByte) throws SourceFormatException {
        long budget = bytes();
        if (declared > budget / heapPerByte) {
            throw new SourceFormatException(file, offset, field + ": " + mib(declared) + " would take about "
                    + mib(declared * heapPerByte) + " of heap to read, over this JVM's budget of " + mib(budget)
                    + " (a quarter of the maximum heap, " + mib(Runtime.getRuntime().maxMemory()) + "): raise -Xmx to read it");
        }
    }

    /**
     * Heap one tensor takes on its way into an image, beyond its name: the source's record of it, the
     * image tree node, the manifest entry and its JSON. Counts that a source declares are checked at
     * this rate before anything is read for them.
     */
    public static final long HEAP_PER_TENSOR = 2048;

    /**
     * Throws unless {@code count} items of {@code heapEach} bytes fit the budget.
     *
     * @param field what declared the count, as the format names it
     */
    public static void requireCount(Path file, long offset, String field, long count, long heapEach) throws SourceFormatException {
        long budget = bytes();
        if (count > budget / heapEach) {
            throw new SourceFormatException(file, offset, field + " = " + count + ": that many would take about "
                    + mib(Math.multiplyHigh(count, heapEach) != 0 ? Long.MAX_VALUE : count * heapEach) + " of heap, over this JVM's budget of "
                    + mib(budget) + " (a quarter of the maximum heap, " + mib(Runtime.getRuntime().maxMemory())
                    + "; room for " + budget / heapEach + "): raise -Xmx to read it");
        }
    }

    private static String mib(long bytes) {
        return bytes >= 10L << 20 ? (bytes >> 20) + " MiB" : String.format("%.1f MiB", bytes / 1048576.0);
    }
}
