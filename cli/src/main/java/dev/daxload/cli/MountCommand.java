package dev.daxload.cli;

import dev.daxload.bridge.dmabuf.DmaHeap;
import dev.daxload.bridge.dmabuf.Udmabuf;
import dev.daxload.bridge.mount.DaxfsMount;
import dev.daxload.bridge.mount.StagedImage;
import dev.daxload.image.internal.ImageValidator;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code daxload mount IMAGE DIR}: places the image in memory the kernel can hand to DAXFS and
 * mounts it there. The bridge's native library is touched only inside {@link #call()}, so the
 * other commands never load it.
 */
@Command(name = "mount", mixinStandardHelpOptions = true,
        description = {"Place an image in memory and mount it as DAXFS (root; needs the daxfs module).",
            "heap: a buffer of the system DMA heap; udmabuf: a memfd exported as a udmabuf;",
            "phys=ADDR[,size=SIZE]: an image that already lies at a physical address (reserved with memmap=).",
            "The image is checked with `daxload verify`'s rules first; an unsound one is refused."})
final class MountCommand implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IMAGE")
    Path image;

    @Parameters(index = "1", paramLabel = "DIR", description = "an existing directory")
    Path dir;

    @Option(names = "--via", paramLabel = "heap|udmabuf|phys=ADDR[,size=SIZE]", defaultValue = "heap",
            description = "where the image lies (default: ${DEFAULT-VALUE})")
    String via;

    @Option(names = "--validate", description = "have the kernel check the image too (-o validate)")
    boolean validate;

    @Option(names = "--name", paramLabel = "NAME", description = "name of the buffer (shown in /proc/PID/fdinfo, /memfd:NAME)")
    String name;

    /** A parsed {@code --via}. */
    record Via(String kind, long physAddr, long size) {
        static Via parse(String s, CommandLine cl) {
            String v = s.trim();
            if (v.equals("heap") || v.equals("udmabuf")) {
                return new Via(v, 0, 0);
            }
            if (v.startsWith("phys=")) {
                String[] parts = v.substring(5).split(",");
                long addr;
                try {
                    addr = Long.decode(parts[0]);
                } catch (NumberFormatException e) {
                    throw new CommandLine.ParameterException(cl, "--via " + s + ": '" + parts[0] + "' is not an address (0x... or decimal)");
                }
                if (addr <= 0) {
                    throw new CommandLine.ParameterException(cl, "--via " + s + ": daxfs needs a non-zero physical address");
                }
                long size = 0;
                for (int i = 1; i < parts.length; i++) {
                    if (!parts[i].startsWith("size=")) {
                        throw new CommandLine.ParameterException(cl, "--via " + s + ": unknown part '" + parts[i] + "' (only size=SIZE)");
                    }
                    try {
                        size = new Sizes.Converter().convert(parts[i].substring(5));
                    } catch (CommandLine.TypeConversionException e) {
                        throw new CommandLine.ParameterException(cl, "--via " + s + ": " + e.getMessage());
                    }
                }
                return new Via("phys", addr, size);
            }
            throw new CommandLine.ParameterException(cl, "--via " + s + ": expected heap, udmabuf or phys=ADDR[,size=SIZE]");
        }
    }

    @Override
    public Integer call() throws Exception {
        ImageArgument.check(image);
        Via v = Via.parse(via, spec.commandLine());
        PrintWriter out = spec.commandLine().getOut();
        if (!Files.isDirectory(dir)) {
            throw new java.nio.file.NotDirectoryException(dir.toString());
        }
        ImageValidator.Result r = StagedImage.validateFile(image);
        if (!r.sound()) {
            throw new IOException(image + ": refusing to mount an unsound image (" + r.errorCount()
                    + " errors): run `daxload verify " + image + "` for all of them");
        }
        // Said before any complaint about heaps, udmabuf or memory: without the filesystem none of them matters.
        if (!DaxfsMount.filesystemAvailable()) {
            throw new IOException(DaxfsMount.MISSING);
        }
        if (v.kind().equals("phys")) {
            long size = v.size() > 0 ? v.size() : StagedImage.pageAlign(Files.size(image));
            if (size < Files.size(image)) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--via phys: size " + size + " is smaller than the image (" + Files.size(image) + " bytes)");
            }
            DaxfsMount.mountPhys(v.physAddr(), size, dir, validate);
            out.printf("mounted %s at %s (phys 0x%x, %s); unmount with: daxload umount %s%n", image, dir, v.physAddr(),
                    Sizes.human(size), dir);
            out.flush();
            return 0;
        }
        try (StagedImage staged = v.kind().equals("heap") ? StagedImage.inHeap(image, DmaHeap.SYSTEM, name)
                : StagedImage.inUdmabuf(image, Udmabuf.DEVICE, name)) {
            ImageValidator.Result copy = staged.verifyCopy();
            if (!copy.sound()) {
                throw new IOException(image + ": the copy in the " + v.kind() + " dma-buf does not validate ("
                        + copy.errorCount() + " errors): memory corruption or a concurrent writer to " + image);
            }
            // The mount keeps its own reference to the buffer: closing ours (end of try) leaves it mounted.
            staged.mount(dir, validate);
            out.printf("mounted %s at %s (%s, %s in a dma-buf); unmount with: daxload umount %s%n", image, dir,
                    v.kind(), Sizes.human(staged.bufferSize()), dir);
        }
        out.flush();
        return 0;
    }
}
