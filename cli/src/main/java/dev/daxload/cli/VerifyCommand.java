package dev.daxload.cli;

import dev.daxload.image.DaxImage;
import dev.daxload.image.ImageProblem;
import dev.daxload.image.ImageValidator;
import dev.daxload.image.MapOptions;
import dev.daxload.image.Mmap;
import dev.daxload.manifest.ModelCatalog;
import dev.daxload.manifest.TensorEntry;
import dev.daxload.tensor.TensorView;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Check an image against every rule of the format, and with --checksums every tensor's CRC32C.",
            "Exits 0 only for a sound image; prints each problem with its inode, offset and rule."})
final class VerifyCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IMAGE")
    Path imagePath;

    @Option(names = "--checksums", description = "also check the CRC32C of every tensor of every model, in parallel")
    boolean checksums;

    @Option(names = "--threads", paramLabel = "N", description = "threads for --checksums (default: one per core)")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = {"-q", "--quiet"}, description = "print nothing; the exit code tells")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try (Arena arena = Arena.ofShared()) {
            // Populated up front: CRC32C runs at 8+ GB/s a core, far faster than pages fault in one by one.
            MemorySegment seg = Mmap.map(imagePath, MapOptions.readOnly().withPopulate(checksums), arena);
            ImageValidator.Result result = ImageValidator.validate(seg);
            if (!quiet) {
                for (ImageProblem p : result.problems()) {
                    err.println(imagePath + ": " + p);
                }
                if (result.droppedProblems() > 0) {
                    err.println(imagePath + ": ... and " + result.droppedProblems() + " more problems");
                }
            }
            if (!result.sound()) {
                if (!quiet) {
                    err.println(imagePath + ": " + result.errorCount() + " errors, "
                            + (result.problems().size() - result.errorCount() + result.droppedProblems()) + " warnings");
                }
                err.flush();
                return 1;
            }
            String summary = result.superblock().inodeCount() + " inodes";
            if (checksums) {
                List<String> bad = checkTensors(DaxImage.of(seg, imagePath.toString()));
                if (!bad.isEmpty()) {
                    if (!quiet) {
                        bad.forEach(b -> err.println(imagePath + ": " + b));
                        err.println(imagePath + ": " + bad.size() + " tensors fail their checksum");
                    }
                    err.flush();
                    return 1;
                }
                summary += ", " + tensorsChecked + " tensor checksums (" + Sizes.human(bytesChecked)
                        + String.format(", %.2f GB/s)", bytesChecked / Math.max(1e-9, seconds) / 1e9);
            }
            if (!quiet) {
                out.println(imagePath + ": OK (" + summary + ")");
            }
        }
        out.flush();
        err.flush();
        return 0;
    }

    private long tensorsChecked;
    private long bytesChecked;
    private double seconds;

    /** CRC32C of every tensor, largest first so one big tensor does not run alone at the end. */
    private List<String> checkTensors(DaxImage image) throws Exception {
        List<TensorView> views = new ArrayList<>();
        for (String model : ModelCatalog.models(image)) {
            for (TensorEntry t : ModelCatalog.load(image, model).tensors()) {
                if (t.crc32c() != null) {
                    views.add(new TensorView(t, image.segment().asSlice(t.offset(), t.length())));
                }
            }
        }
        views.sort((a, b) -> Long.compare(b.byteSize(), a.byteSize()));
        long total = views.stream().mapToLong(TensorView::byteSize).sum();
        AtomicLong done = new AtomicLong();
        List<String> bad = Collections.synchronizedList(new ArrayList<>());
        long t0 = System.nanoTime();
        try (ProgressBar bar = new ProgressBar("checksums", quiet); ForkJoinPool pool = new ForkJoinPool(Math.max(1, threads))) {
            pool.submit(() -> views.parallelStream().forEach(v -> {
                try {
                    v.verify();
                } catch (TensorView.ChecksumException e) {
                    bad.add(e.getMessage());
                }
                bar.progress(done.addAndGet(v.byteSize()), total);
            })).get();
        }
        seconds = (System.nanoTime() - t0) / 1e9;
        tensorsChecked = views.size();
        bytesChecked = total;
        return bad;
    }
}
