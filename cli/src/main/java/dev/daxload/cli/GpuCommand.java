package dev.daxload.cli;

import dev.daxload.bridge.cuda.CudaDriver;
import dev.daxload.bridge.cuda.DeviceImage;
import dev.daxload.bridge.cuda.ShareHeader;
import dev.daxload.bridge.fdpass.UnixSocket;
import dev.daxload.bridge.linux.NativeFd;
import dev.daxload.image.DaxImage;
import dev.daxload.image.DaxfsLayout;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
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
        subcommands = {GpuCommand.Probe.class, GpuCommand.Load.class, GpuCommand.Attach.class})
final class GpuCommand implements Runnable {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand (probe, load, attach)");
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
                out.printf("device %d: %s; VMM %s, POSIX fd export %s, dma-buf export %s, host register %s%n", d.ordinal(), d.name(),
                        yes(d.virtualMemory()), yes(d.posixFdHandles()), yes(d.dmaBuf()), yes(d.hostRegister()));
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

        @Option(names = "--chunk", paramLabel = "SIZE", converter = Sizes.Converter.class, defaultValue = "32M",
                description = "upload piece size (default: ${DEFAULT-VALUE})")
        long chunk;

        @Option(names = "--no-reference", description = "skip the plain cuMemcpyHtoD measurement (it pins a buffer as large as the image)")
        boolean noReference;

        @Option(names = "--try-mount", paramLabel = "DIR", description = "also export the device range as a dma-buf and try to mount it as DAXFS at DIR")
        Path tryMount;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            if (chunk <= 0) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--chunk must be more than 0");
            }
            try (CudaDriver cu = openDriver(device); DaxImage img = DaxImage.open(image)) {
                out.println("device " + device + ": " + cu.info().name() + " (" + cu.backend() + ")");
                try (DeviceImage dev = DeviceImage.upload(cu, img.segment(), image.toString(), chunk)) {
                    DeviceImage.UploadStats s = dev.uploadStats();
                    out.printf("uploaded %s in %.1f ms: %.2f GB/s (%d pieces of %s, 2 pinned buffers on 2 streams)%n",
                            Sizes.human(s.bytes()), s.nanos() / 1e6, s.gbPerSecond(), s.chunks(), Sizes.human(s.chunkSize()));
                    if (!noReference) {
                        DeviceImage.UploadStats ref = dev.measurePlainCopy(img.segment());
                        out.printf("reference: one cuMemcpyHtoD of %s from pinned memory: %.1f ms, %.2f GB/s%n",
                                Sizes.human(ref.bytes()), ref.nanos() / 1e6, ref.gbPerSecond());
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

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
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
                long t1 = System.nanoTime();
                try (DeviceImage dev = DeviceImage.attach(cu, fd, h.allocationSize(), h.imageSize())) {
                    long t2 = System.nanoTime();
                    int magic = ByteBuffer.wrap(dev.read(0, 4)).order(ByteOrder.LITTLE_ENDIAN).getInt();
                    if (magic != DaxfsLayout.SUPER_MAGIC) {
                        throw new IOException(String.format("device memory from %s does not start with a DAXFS superblock (magic 0x%08x)", socket, magic));
                    }
                    out.printf("attached %s of device memory from pid %d on device %d at 0x%x in %.2f ms (import+map; %.2f ms with the socket and driver);"
                                    + " superblock magic 0x%08x read back from the device%n", Sizes.human(h.imageSize()), h.holderPid(),
                            h.device(), dev.base(), (t2 - t1) / 1e6, (t2 - t0) / 1e6, magic);
                }
            }
            out.flush();
            return 0;
        }
    }

}
