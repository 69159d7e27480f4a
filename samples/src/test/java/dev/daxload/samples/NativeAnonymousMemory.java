package dev.daxload.samples;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.management.JMException;
import javax.management.ObjectName;

/**
 * Anonymous memory resident in this process outside the Java heap: what a native engine's copy of the
 * weights would add. The Java heap is left out because G1 grows and returns it on its own schedule
 * (tens of MB either way between two readings), which drowned the signal in the zero-copy tests.
 */
public final class NativeAnonymousMemory {
    private static final Pattern HEAP_RANGE = Pattern.compile("\\[0x([0-9a-f]+), 0x([0-9a-f]+)\\)");
    private static final Pattern MAPPING = Pattern.compile("^([0-9a-f]+)-([0-9a-f]+) ");

    private NativeAnonymousMemory() {}

    /** Sum of {@code Anonymous:} over the mappings of /proc/self/smaps that lie outside the Java heap, in bytes. */
    public static long bytes() throws IOException {
        long[] heap = javaHeap();
        long total = 0;
        boolean inHeap = false;
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
            Matcher m = MAPPING.matcher(line);
            if (m.find()) {
                long start = Long.parseUnsignedLong(m.group(1), 16);
                long end = Long.parseUnsignedLong(m.group(2), 16);
                inHeap = start >= heap[0] && end <= heap[1];
            } else if (!inHeap && line.startsWith("Anonymous:")) {
                total += Long.parseLong(line.substring("Anonymous:".length()).replace("kB", "").trim()) * 1024;
            }
        }
        return total;
    }

    /** The Java heap's reserved address range, as {@code jcmd GC.heap_info} prints it. */
    static long[] javaHeap() throws IOException {
        String info;
        try {
            info = (String) ManagementFactory.getPlatformMBeanServer().invoke(
                    new ObjectName("com.sun.management:type=DiagnosticCommand"), "gcHeapInfo",
                    new Object[] {null}, new String[] {String[].class.getName()});
        } catch (JMException e) {
            throw new IOException("cannot ask the JVM for its heap range (GC.heap_info)", e);
        }
        Matcher m = HEAP_RANGE.matcher(info);
        if (!m.find()) {
            throw new IOException("no [start, end) address range in GC.heap_info output: " + info);
        }
        return new long[] {Long.parseUnsignedLong(m.group(1), 16), Long.parseUnsignedLong(m.group(2), 16)};
    }
}
