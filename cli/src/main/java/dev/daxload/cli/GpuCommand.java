package dev.daxload.cli;

import dev.daxload.bridge.cuda.CudaDriver;
import dev.daxload.bridge.cuda.DeviceImage;
import dev.daxload.bridge.cuda.ShareHeader;
import dev.daxload.bridge.cuda.TorchCuda;
import dev.daxload.bridge.cuda.UploadBenchmark;
import dev.daxload.manifest.ModelCatalog;
import dev.daxload.manifest.ModelManifest;
import dev.daxload.manifest.TensorEntry;
import dev.daxload.bridge.fdpass.UnixSocket;
import dev.daxload.bridge.linux.NativeFd;
import dev.daxload.image.DaxImage;
import dev.daxload.image.internal.DaxfsLayout;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code daxload gpu ...}: an image in GPU memory, copied once and shared by fd. */
@Command(name = "gpu", mixinStandardHelpOptions = true,
        description = {"Images in GPU memory through the CUDA driver API.",
            "load copies an image to the GPU once and shares it; attach maps the shared copy in another process."},
        subcommands = {GpuCommand.Probe.class, GpuCommand.Load.class, GpuCommand.Attach.class, GpuCommand.Bench.class, GpuCommand.Views.class})
final class GpuCommand implements Runnable {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand (probe, load, attach, bench, views)");
    }

    /** Fails with the probe's reason when there is no usable driver. */
    static CudaDriver openDriver(int device) throws IOException {
        CudaDriver.Probe p = CudaDriver.probe();
        if (!p.available()) {
            throw new IOException(p.reason());
        }
        return CudaDriver.open(device);
    }

    @Command(name = "probe", mixinStandardHelpOptions = true,
            description = "Say whether CUDA works here, through which binding, and what each device supports. Exit 1 when it does not.")
    static final class Probe implements Callable<Integer> {
        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            CudaDriver.Probe p = CudaDriver.probe();
            PrintWriter out = spec.commandLine().getOut();
            if (!p.available()) {
                spec.commandLine().getErr().println("daxload gpu probe: " + p.reason());
                spec.commandLine().getErr().flush();
                return 1;
            }
            out.println(p.reason());
            for (CudaDriver.Device d : p.devices()) {
                out.printf("device %d: %s; VMM %s, POSIX fd export %s, dma-buf export %s, host register %s (read-only pages %s)%n",
                        d.ordinal(), d.name(), yes(d.virtualMemory()), yes(d.posixFdHandles()), yes(d.dmaBuf()), yes(d.hostRegister()),
                        yes(d.readOnlyHostRegister()));
            }
            out.flush();
            return 0;
        }

        private static String yes(boolean b) {
            return b ? "yes" : "no";
        }
    }

    @Command(name = "load", mixinStandardHelpOptions = true,
            description = {"Copy an image into GPU memory once and hold it: each client that connects to SOCKET",
                "gets the memory as an fd (SCM_RIGHTS) and maps it with no second copy. Prints the upload bandwidth",
                "beside a plain cuMemcpyHtoD from pinned memory of the same size. Runs until killed or --clients are served."})
    static final class Load implements Callable<Integer> {
        @Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(index = "0", paramLabel = "IMAGE")
        Path image;

        @Option(names = "--share", paramLabel = "SOCKET", required = true, description = "Unix socket path to serve the fd on")
        Path socket;

        @Option(names = "--device", paramLabel = "N", defaultValue = "0", description = "GPU ordinal (default: ${DEFAULT-VALUE})")
        int device;

        @Option(names = "--clients", paramLabel = "N", defaultValue = "0", description = "exit after serving N clients (0: serve until killed)")
        int clients;

        @Option(names = "--chunk", paramLabel = "SIZE", converter = Sizes.Converter.class, defaultValue = "4M",
                description = "upload piece size (default: ${DEFAULT-VALUE})")
        long chunk;

        @Option(names = "--threads", paramLabel = "N", description = "staging workers (default: half the CPUs, at most 8)")
        Integer threads;

        @Option(names = "--registered", description = "pin the image file's pages in place and copy them by DMA instead of staging them")
        boolean registered;

        @Option(names = "--no-reference", description = "skip the plain cuMemcpyHtoD measurement (it pins a buffer as large as the image)")
        boolean noReference;

        @Option(names = "--try-mount", paramLabel = "DIR", description = "also export the device range as a dma-buf and try to mount it as DAXFS at DIR")
        Path tryMount;

        @Override
        public Integer call() throws Exception {
            ImageArgument.check(image);
            PrintWriter out = spec.commandLine().getOut();
            if (chunk <= 0) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--chunk must be more than 0");
            }
            if (threads != null && threads <= 0) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--threads must be more than 0");
            }
            DeviceImage.UploadMethod method = registered ? new DeviceImage.Registered(true)
                    : new DeviceImage.Staged(chunk, threads != null ? threads : DeviceImage.Staged.defaultThreads());
            // Validate first (open checks every rule): a holder serves what others will trust without checking again.
            DaxImage.open(image).close();
            try (CudaDriver cu = openDriver(device)) {
                out.println("device " + device + ": " + cu.info().name() + " (" + cu.backend() + ")");
                CudaDriver.MemoryInfo before = cu.memoryInfo();
                try (DeviceImage dev = DeviceImage.upload(cu, image, method)) {
                    CudaDriver.MemoryInfo after = cu.memoryInfo();
                    DeviceImage.UploadStats s = dev.uploadStats();
                    out.printf("uploaded %s in %.1f ms: %.2f GB/s (%s; %d pieces of %s)%n",
                            Sizes.human(s.bytes()), s.nanos() / 1e6, s.gbPerSecond(), s.method(), s.chunks(), Sizes.human(s.chunkSize()));
                    out.printf("device memory: %s used before, %s after (+%s for an allocation of %s)%n", Sizes.human(before.used()),
                            Sizes.human(after.used()), Sizes.human(after.used() - before.used()), Sizes.human(dev.allocationSize()));
                    if (!noReference) {
                        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined();
                             java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(image)) {
                            DeviceImage.UploadStats ref = dev.measurePlainCopy(ch.map(java.nio.channels.FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena));
                            out.printf("reference: one cuMemcpyHtoD of %s from pinned memory: %.1f ms, %.2f GB/s (upload/reference %.2f)%n",
                                    Sizes.human(ref.bytes()), ref.nanos() / 1e6, ref.gbPerSecond(), s.gbPerSecond() / ref.gbPerSecond());
                        }
                    }
                    if (tryMount != null) {
                        out.println("dma-buf mount: " + dev.tryMountDaxfs(tryMount).report());
                    }
                    out.flush();
                    serve(dev, out);
                }
            }
            return 0;
        }

        private void serve(DeviceImage dev, PrintWriter out) throws IOException {
            byte[] header = new ShareHeader(dev.allocationSize(), dev.imageSize(), dev.deviceOrdinal(),
                    (int) ProcessHandle.current().pid()).encode();
            Thread cleanup = new Thread(() -> {
                try {
                    Files.deleteIfExists(socket);
                } catch (IOException ignored) {
                    // best effort at exit
                }
            });
            try (NativeFd exported = dev.exportFd(); UnixSocket listener = UnixSocket.listen(socket)) {
                Runtime.getRuntime().addShutdownHook(cleanup);
                out.println("serving " + Sizes.human(dev.imageSize()) + " of device memory on " + socket
                        + (clients > 0 ? " to " + clients + " client(s)" : " until killed"));
                out.flush();
                for (int served = 0; clients == 0 || served < clients; served++) {
                    try (UnixSocket c = listener.accept()) {
                        c.sendFds(header, exported);
                    }
                    out.println("client " + (served + 1) + " got the fd");
                    out.flush();
                }
            } finally {
                Files.deleteIfExists(socket);
                try {
                    Runtime.getRuntime().removeShutdownHook(cleanup);
                } catch (IllegalStateException | IllegalArgumentException shuttingDown) {
                    // the hook runs or was never added
                }
            }
        }
    }

    @Command(name = "attach", mixinStandardHelpOptions = true,
            description = {"Map the GPU copy that `daxload gpu load --share SOCKET` holds, with no copy,",
                "read the superblock magic back from device memory and print the attach time."})
    static final class Attach implements Callable<Integer> {
        @Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(index = "0", paramLabel = "SOCKET")
        Path socket;

        @Option(names = "--repeat", paramLabel = "N", defaultValue = "1",
                description = "map and unmap the memory N times, timing each: the first includes this JVM's cold start (default: ${DEFAULT-VALUE})")
        int repeat;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            if (repeat < 1) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--repeat must be at least 1");
            }
            long t0 = System.nanoTime();
            ShareHeader h;
            NativeFd fd;
            try (UnixSocket s = UnixSocket.connect(socket); UnixSocket.Message m = s.receiveFds(ShareHeader.SIZE, 1)) {
                if (m.fds().size() != 1) {
                    throw new IOException(socket + ": the holder sent no fd (" + m.data().length + " bytes, " + m.fds().size() + " fds)");
                }
                h = ShareHeader.decode(m.data());
                fd = m.fds().getFirst().dup(); // ours past the message's close
            }
            try (fd; CudaDriver cu = openDriver(h.device())) {
                CudaDriver.MemoryInfo before = cu.memoryInfo();
                long t1 = System.nanoTime();
                try (DeviceImage dev = DeviceImage.attach(cu, fd, h.allocationSize(), h.imageSize())) {
                    long t2 = System.nanoTime();
                    CudaDriver.MemoryInfo after = cu.memoryInfo();
                    int magic = ByteBuffer.wrap(dev.read(0, 4)).order(ByteOrder.LITTLE_ENDIAN).getInt();
                    if (magic != DaxfsLayout.SUPER_MAGIC) {
                        throw new IOException(String.format("device memory from %s does not start with a DAXFS superblock (magic 0x%08x)", socket, magic));
                    }
                    out.printf("attached %s of device memory from pid %d on device %d at 0x%x in %.2f ms (import+map; %.2f ms with the socket and driver);"
                                    + " superblock magic 0x%08x read back from the device%n", Sizes.human(h.imageSize()), h.holderPid(),
                            h.device(), dev.base(), (t2 - t1) / 1e6, (t2 - t0) / 1e6, magic);
                    out.printf("device memory used on device %d: %s before the attach, %s after (+%s; the image is %s)%n", h.device(),
                            Sizes.human(before.used()), Sizes.human(after.used()), Sizes.human(after.used() - before.used()),
                            Sizes.human(h.allocationSize()));
                }
                for (int i = 2; i <= repeat; i++) {
                    long t3 = System.nanoTime();
                    try (DeviceImage again = DeviceImage.attach(cu, fd, h.allocationSize(), h.imageSize())) {
                        out.printf("attach %d: import+map in %.3f ms%n", i, (System.nanoTime() - t3) / 1e6);
                    }
                }
            }
            out.flush();
            return 0;
        }
    }


    @Command(name = "bench", mixinStandardHelpOptions = true,
            description = {"Time uploads of IMAGE into GPU memory against a plain cuMemcpyHtoD of the same bytes from",
                "pinned memory in the same rounds, reading the image from the page cache and from a memfd.",
                "Prints every round, then each method's median GB/s and its ratio to the reference."})
    static final class Bench implements Callable<Integer> {
        @Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(index = "0", paramLabel = "IMAGE")
        Path image;

        @Option(names = "--device", paramLabel = "N", defaultValue = "0", description = "GPU ordinal (default: ${DEFAULT-VALUE})")
        int device;

        @Option(names = "--rounds", paramLabel = "N", defaultValue = "3", description = "rounds per source (default: ${DEFAULT-VALUE})")
        int rounds;

        @Option(names = "--threads", paramLabel = "N", split = ",", defaultValue = "1,4,8",
                description = "staging worker counts to time (default: ${DEFAULT-VALUE})")
        List<Integer> threads;

        @Option(names = "--chunk", paramLabel = "SIZE", split = ",", converter = Sizes.Converter.class, defaultValue = "32M",
                description = "staging piece sizes to time (default: ${DEFAULT-VALUE})")
        List<Long> chunks;

        @Option(names = "--no-registered", description = "do not time the registered (pinned in place) upload")
        boolean noRegistered;

        @Option(names = "--pin-threads", paramLabel = "N", split = ",",
                description = "also time registered uploads pinned in pieces by N workers each (e.g. 8,16)")
        List<Integer> pinThreads = List.of();

        @Option(names = "--pin-piece", paramLabel = "SIZE", split = ",", converter = Sizes.Converter.class, defaultValue = "64M",
                description = "piece sizes for --pin-threads (default: ${DEFAULT-VALUE})")
        List<Long> pinPieces;

        @Option(names = "--fill", paramLabel = "HOW", split = ",", defaultValue = "read",
                description = "how staged copies fill their pinned buffers: read (pread from the file), map (mmap and memcpy) (default: ${DEFAULT-VALUE})")
        List<String> fills;

        @Option(names = "--source", paramLabel = "SRC", split = ",", defaultValue = "page-cache,memfd",
                description = "page-cache, memfd (default: ${DEFAULT-VALUE})")
        List<String> sources;

        @Override
        public Integer call() throws Exception {
            ImageArgument.check(image);
            PrintWriter out = spec.commandLine().getOut();
            if (rounds < 1 || chunks.stream().anyMatch(c -> c <= 0) || threads.stream().anyMatch(t -> t < 1)) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--rounds, --chunk and --threads must be more than 0");
            }
            List<UploadBenchmark.Source> src;
            try {
                src = sources.stream().map(UploadBenchmark.Source::of).toList();
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
            }
            DaxImage.open(image).close(); // a sound image, not any file: open checks every rule
            if (fills.stream().anyMatch(f -> !f.equals("read") && !f.equals("map"))) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--fill takes read and map, not " + fills);
            }
            List<UploadBenchmark.Trial> methods = new java.util.ArrayList<>();
            for (String fill : fills) {
                for (long chunk : chunks) {
                    threads.forEach(t -> methods.add(new UploadBenchmark.Trial(new DeviceImage.Staged(chunk, t), fill.equals("map"))));
                }
            }
            if (!noRegistered) {
                methods.add(new UploadBenchmark.Trial(new DeviceImage.Registered(true), true));
            }
            if (pinThreads.stream().anyMatch(t -> t < 1) || pinPieces.stream().anyMatch(p -> p <= 0)) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--pin-threads and --pin-piece must be more than 0");
            }
            for (long piece : pinPieces) {
                pinThreads.forEach(t -> methods.add(new UploadBenchmark.Trial(new DeviceImage.Registered(true, piece, t), true)));
            }
            try (CudaDriver cu = openDriver(device)) {
                out.printf("device %d: %s (%s); image %s (%s)%n", device, cu.info().name(), cu.backend(), image,
                        Sizes.human(java.nio.file.Files.size(image)));
                out.flush();
                List<UploadBenchmark.Summary> summary = UploadBenchmark.run(cu, image, src, methods, rounds, r -> {
                    out.printf("round %d %-10s %-34s %7.2f GB/s %9.1f ms%s%n", r.round(), r.source().label(), r.method(),
                            r.stats().gbPerSecond(), r.stats().nanos() / 1e6,
                            r.stats().setupNanos() > 0 ? String.format(" (set-up %.1f ms)", r.stats().setupNanos() / 1e6) : "");
                    out.flush();
                });
                out.println("medians over " + rounds + " rounds (ratio: to the reference in the same rounds)");
                for (UploadBenchmark.Summary s : summary) {
                    out.printf("summary %-10s %-34s %7.2f GB/s  ratio %.2f%s%n", s.source().label(), s.method(), s.medianGbPerSecond(),
                            s.ratio(), s.medianSetupMillis() > 0 ? String.format("  (set-up %.1f ms)", s.medianSetupMillis()) : "");
                }
                out.flush();
            }
            return 0;
        }
    }

    @Command(name = "views", mixinStandardHelpOptions = true,
            description = {"Print, one JSON object per line, what a CUDA PyTorch tensor over each tensor of MODEL needs",
                "(libtorch's aoti_torch_create_tensor_from_blob arguments, with the image's offset in place of the",
                "pointer: add the device address where the image is mapped), or why a tensor cannot be one."})
    static final class Views implements Callable<Integer> {
        @Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(index = "0", paramLabel = "IMAGE")
        Path image;

        @Parameters(index = "1", paramLabel = "MODEL", arity = "0..1", description = "the model (default: the image's only one)")
        String model;

        @Option(names = "--device", paramLabel = "N", defaultValue = "0", description = "GPU ordinal to name in the specs (default: ${DEFAULT-VALUE})")
        int device;

        @Override
        public Integer call() throws Exception {
            ImageArgument.check(image);
            PrintWriter out = spec.commandLine().getOut();
            int refused = 0;
            int made = 0;
            try (DaxImage img = DaxImage.open(image)) {
                String name = model;
                if (name == null) {
                    List<String> models = ModelCatalog.models(img);
                    if (models.size() != 1) {
                        throw new CommandLine.ParameterException(spec.commandLine(), image + " holds " + models.size()
                                + " models " + models + ": name one");
                    }
                    name = models.getFirst();
                }
                ModelManifest m = ModelCatalog.load(img, name);
                for (TensorEntry t : m.tensors()) {
                    com.google.gson.JsonObject o = new com.google.gson.JsonObject();
                    o.addProperty("name", t.name());
                    o.addProperty("dtype", t.dtype().name());
                    o.addProperty("offset", t.offset());
                    o.addProperty("length", t.length());
                    try {
                        TorchCuda.Spec s = TorchCuda.spec(0, img.segment().byteSize(), device, t.offset(), t.length(), t.shape(), t.dtype().name());
                        o.add("sizes", longs(s.sizes()));
                        o.add("strides", longs(s.strides()));
                        o.addProperty("scalarType", s.scalarType());
                        o.addProperty("torchDtype", TorchCuda.torchDtype(t.dtype().name()).torchName());
                        o.addProperty("deviceType", s.deviceType());
                        o.addProperty("deviceIndex", s.deviceIndex());
                        made++;
                    } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
                        o.addProperty("refused", e.getMessage());
                        refused++;
                    }
                    out.println(o);
                }
            }
            out.flush();
            spec.commandLine().getErr().println("daxload gpu views: " + made + " tensors can be CUDA views, " + refused + " refused");
            spec.commandLine().getErr().flush();
            return 0;
        }

        private static com.google.gson.JsonArray longs(long[] v) {
            com.google.gson.JsonArray a = new com.google.gson.JsonArray();
            for (long x : v) {
                a.add(x);
            }
            return a;
        }
    }
}
