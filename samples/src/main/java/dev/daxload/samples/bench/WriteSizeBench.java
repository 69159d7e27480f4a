package dev.daxload.samples.bench;

import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.source.SourceReaders;
import dev.daxload.packager.source.SourceTensor;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What one pwrite call's size costs when a source's tensors are copied into a new file at 4 KiB-aligned
 * positions, as the image writer does: each tensor read 1 MiB at a time, written with calls of the given
 * size, against {@code transferTo} (copy_file_range) of the whole file. One thread, no checksum, rounds
 * rotating the order; before each timing the output is deleted, {@code sync} runs, and then the
 * program waits PAUSE_MS, so that memory freed by the last round has time to be reported to a VM's
 * host if the VM does that. The figures that chose {@code WriteSize} in docs/benchmarks.md came from it.
 *
 * <pre>usage: WriteSizeBench SOURCE WORKDIR [ROUNDS [PAUSE_MS [SIZE_KIB,...]]]   (defaults 5, 0, 16,64,256,1024)</pre>
 */
public final class WriteSizeBench {
    private WriteSizeBench() {}

    public static void main(String[] args) throws Exception {
        Path source = Path.of(args[0]);
        Path out = Files.createDirectories(Path.of(args[1])).resolve("write-size.bin");
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        long pause = args.length > 3 ? Long.parseLong(args[3]) : 0;
        String sizes = args.length > 4 ? args[4] : "16,64,256,1024";
        List<FileContent.FileRange> ranges = new ArrayList<>();
        for (SourceTensor t : SourceReaders.standard().read(source).tensors()) {
            if (t.content() instanceof FileContent.FileRange r) {
                ranges.add(r);
            }
        }
        List<String> variants = new ArrayList<>(List.of("copy_file_range"));
        for (String k : sizes.split(",")) {
            variants.add(k.trim() + " KiB");
        }
        Map<String, List<Double>> times = new LinkedHashMap<>();
        for (int r = 0; r < rounds; r++) {
            for (int v = 0; v < variants.size(); v++) {
                String name = variants.get((v + r) % variants.size());
                Files.deleteIfExists(out);
                PackThroughput.sync();
                Thread.sleep(pause);
                long t0 = System.nanoTime();
                if (name.equals("copy_file_range")) {
                    copyWhole(source, out);
                } else {
                    writeRanges(ranges, out, Integer.parseInt(name.replace(" KiB", "")) << 10);
                }
                times.computeIfAbsent(name, k -> new ArrayList<>()).add((System.nanoTime() - t0) / 1e9);
            }
        }
        Files.deleteIfExists(out);
        System.out.printf("source %s, %d ranges, %d rounds, pause %d ms%n", source, ranges.size(), rounds, pause);
        for (var e : times.entrySet()) {
            double[] t = e.getValue().stream().mapToDouble(Double::doubleValue).toArray();
            System.out.printf("%-16s median %.3f s  rounds %s%n", e.getKey(), PackThroughput.median(t), e.getValue());
        }
    }

    private static void copyWhole(Path source, Path out) throws Exception {
        try (FileChannel in = FileChannel.open(source);
             FileChannel o = FileChannel.open(out, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            long n = in.size();
            for (long done = 0; done < n; ) {
                done += in.transferTo(done, n - done, o);
            }
        }
    }

    private static void writeRanges(List<FileContent.FileRange> ranges, Path out, int writeSize) throws Exception {
        try (Arena arena = Arena.ofConfined();
             FileChannel o = FileChannel.open(out, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer b = arena.allocate(1 << 20, 4096).asByteBuffer();
            long position = 0;
            FileChannel in = null;
            Path open = null;
            try {
                for (FileContent.FileRange r : ranges) {
                    if (!r.file().equals(open)) {
                        if (in != null) {
                            in.close();
                        }
                        in = FileChannel.open(r.file());
                        open = r.file();
                    }
                    position = (position + 4095) & ~4095L;
                    for (long done = 0; done < r.length(); ) {
                        b.clear().limit((int) Math.min(b.capacity(), r.length() - done));
                        while (b.hasRemaining()) {
                            in.read(b, r.offset() + done + b.position());
                        }
                        int n = b.position();
                        long at = position + done;
                        for (int p = 0; p < n; ) {
                            b.limit(Math.min(n, p + writeSize)).position(p);
                            while (b.hasRemaining()) {
                                at += o.write(b, at);
                            }
                            p = b.position();
                        }
                        done += n;
                    }
                    position += r.length();
                }
            } finally {
                if (in != null) {
                    in.close();
                }
            }
        }
    }
}
