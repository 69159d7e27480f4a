package dev.daxload.bridge.cuda;

import dev.daxload.bridge.memfd.Memfd;
import dev.daxload.bridge.mmap.Mapping;
import dev.daxload.bridge.mount.StagedImage;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * Upload bandwidth of an image into device memory, judged against the bus itself: in every round
 * a plain {@code cuMemcpyHtoD} of the same bytes from one page-locked buffer (the fastest a copy
 * from host memory can be) runs beside each upload method, so the ratio holds on a shared,
 * noisy machine.
 *
 * <p>Each round maps the source anew, as a fresh process would: the page faults and the pinning
 * that a real load pays are in the upload's time, never in the reference's. After the last round
 * the device content is compared with the source at spread-out places.
 */
public final class UploadBenchmark {
    /** Where the image's bytes are read from. */
    public enum Source {
        /** The image file, mapped read-only: pages from the page cache. */
        PAGE_CACHE("page-cache"),
        /** A memfd holding a copy of the image (what {@link HostImage} and {@code daxload mount --via udmabuf} use). */
        MEMFD("memfd");

        private final String label;

        Source(String label) {
            this.label = label;
        }

        /** @return the name used on the command line */
        public String label() {
            return label;
        }

        /**
         * @param label a name from {@link #label()}
         * @return the source
         */
        public static Source of(String label) {
            return Arrays.stream(values()).filter(s -> s.label.equals(label)).findFirst().orElseThrow(
                    () -> new IllegalArgumentException("unknown source '" + label + "' (page-cache, memfd)"));
        }
    }

    /**
     * One way to upload: a method, and for staged copies how the pinned buffers are filled.
     *
     * @param method how the bytes travel
     * @param mapped for {@link DeviceImage.Staged}: from a mapping of the source (page faults and a
     *        CPU copy) rather than by {@code pread} into the pinned buffers; registered copies are always mapped
     */
    public record Trial(DeviceImage.UploadMethod method, boolean mapped) {
        /** @return a label for reports */
        public String describe() {
            return method.describe() + (method instanceof DeviceImage.Staged ? (mapped ? " mmap" : " pread") : "");
        }
    }

    /**
     * One timed copy.
     *
     * @param source where the bytes came from
     * @param method what copied them ("reference" for the plain pinned copy)
     * @param round 1-based
     * @param stats the copy's figures
     */
    public record Result(Source source, String method, int round, DeviceImage.UploadStats stats) {}

    /**
     * Medians of one method over the rounds.
     *
     * @param source where the bytes came from
     * @param method what copied them
     * @param medianGbPerSecond median bandwidth
     * @param ratio that median over the reference's median in the same rounds
     * @param medianSetupMillis median set-up time: pinning the source (registered) or the staging buffers (staged)
     */
    public record Summary(Source source, String method, double medianGbPerSecond, double ratio, double medianSetupMillis) {}

    private UploadBenchmark() {}

    /**
     * Runs the rounds.
     *
     * @param cu the open driver
     * @param image the image file
     * @param sources where to read it from
     * @param methods the upload methods to time
     * @param rounds rounds per source
     * @param each called with every result as it is measured
     * @return the medians, per source and method (the reference first)
     * @throws IOException if the image cannot be read, a copy fails, or the device content does not match
     */
    public static List<Summary> run(CudaDriver cu, Path image, List<Source> sources, List<Trial> methods,
                                    int rounds, Consumer<Result> each) throws IOException {
        if (rounds < 1) {
            throw new IllegalArgumentException("rounds must be at least 1");
        }
        List<Summary> out = new ArrayList<>();
        long size;
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ)) {
            size = ch.size();
        }
        for (Source source : sources) {
            try (SourceBytes bytes = SourceBytes.open(image, source, size);
                 DeviceImage dev = DeviceImage.allocate(cu, size, image.toString())) {
                List<List<Result>> byMethod = new ArrayList<>();
                for (int m = 0; m <= methods.size(); m++) {
                    byMethod.add(new ArrayList<>());
                }
                long pinned = pinnedCopy(cu, bytes);
                try {
                    for (int r = 1; r <= rounds; r++) {
                        Result ref = new Result(source, "reference", r, dev.timePlainCopy(pinned));
                        byMethod.get(0).add(ref);
                        each.accept(ref);
                        for (int m = 0; m < methods.size(); m++) {
                            Trial trial = methods.get(m);
                            Result res;
                            if (trial.mapped() || trial.method() instanceof DeviceImage.Registered) {
                                try (MappedSource src = bytes.map()) {
                                    res = new Result(source, trial.describe(), r, dev.copyFrom(src.segment(), trial.method()));
                                }
                            } else {
                                try (FileChannel ch = bytes.channel()) {
                                    res = new Result(source, trial.describe(), r, dev.copyFrom(ch, trial.method()));
                                }
                            }
                            byMethod.get(m + 1).add(res);
                            each.accept(res);
                        }
                    }
                } finally {
                    cu.api().freeHost(pinned);
                }
                checkContent(dev, bytes, size);
                double refMedian = median(byMethod.get(0));
                for (List<Result> rs : byMethod) {
                    double med = median(rs);
                    double setup = rs.stream().mapToDouble(x -> x.stats().setupNanos() / 1e6).sorted().toArray()[rs.size() / 2];
                    out.add(new Summary(source, rs.getFirst().method(), med, med / refMedian, setup));
                }
            }
        }
        return out;
    }

    private static double median(List<Result> rs) {
        double[] v = rs.stream().mapToDouble(r -> r.stats().gbPerSecond()).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    /** A page-locked copy of the image: the reference's source, filled once and not timed. */
    private static long pinnedCopy(CudaDriver cu, SourceBytes bytes) throws IOException {
        try (MappedSource src = bytes.map()) {
            return DeviceImage.pinnedCopyOf(cu, src.segment());
        }
    }

    /** Compares 64 KiB at 64 places (the first and last bytes included) of the device with the source. */
    private static void checkContent(DeviceImage dev, SourceBytes bytes, long size) throws IOException {
        int piece = (int) Math.min(size, 64 << 10);
        try (MappedSource src = bytes.map()) {
            for (int i = 0; i < 64; i++) {
                long off = i == 63 ? size - piece : (size - piece) / 63 * i;
                byte[] want = src.segment().asSlice(off, piece).toArray(ValueLayout.JAVA_BYTE);
                if (!Arrays.equals(want, dev.read(off, piece))) {
                    throw new IOException("device memory differs from " + bytes.name + " at [" + off + ", +" + piece + ") after the uploads");
                }
            }
        }
    }

    /** A mapping of the source for one copy. */
    private interface MappedSource extends AutoCloseable {
        MemorySegment segment();

        @Override
        void close();
    }

    /** The image as a file or a memfd, mapped anew for each copy. */
    private static final class SourceBytes implements AutoCloseable {
        final Path file;
        final Memfd memfd;
        final long size;
        final String name;

        private SourceBytes(Path file, Memfd memfd, long size, String name) {
            this.file = file;
            this.memfd = memfd;
            this.size = size;
            this.name = name;
        }

        static SourceBytes open(Path image, Source source, long size) throws IOException {
            return switch (source) {
                case PAGE_CACHE -> new SourceBytes(image, null, size, image.toString());
                case MEMFD -> {
                    Memfd m = StagedImage.copyToMemfd(image, null);
                    yield new SourceBytes(null, m, size, "a memfd copy of " + image);
                }
            };
        }

        /** A new channel on the source: a memfd is opened again through /proc, as another process would. */
        FileChannel channel() throws IOException {
            return FileChannel.open(file != null ? file : Path.of("/proc/self/fd/" + memfd.fd().fd()), StandardOpenOption.READ);
        }

        MappedSource map() throws IOException {
            if (memfd == null) {
                Arena arena = Arena.ofShared();
                try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                    MemorySegment seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
                    return new MappedSource() {
                        @Override
                        public MemorySegment segment() {
                            return seg;
                        }

                        @Override
                        public void close() {
                            arena.close();
                        }
                    };
                } catch (IOException | RuntimeException e) {
                    arena.close();
                    throw e;
                }
            }
            Mapping map = Mapping.map(memfd.fd(), 0, memfd.size(), Mapping.Access.READ_WRITE);
            return new MappedSource() {
                @Override
                public MemorySegment segment() {
                    return map.segment().asSlice(0, size);
                }

                @Override
                public void close() {
                    map.close();
                }
            };
        }

        @Override
        public void close() {
            if (memfd != null) {
                memfd.close();
            }
        }
    }
}
