package dev.daxload.samples.bench;

import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.model.ModelPackager;
import dev.daxload.packager.source.SourceReaders;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * Packing throughput inside one warm JVM, against a plain file copy by the same kernel path
 * ({@code transferTo}, i.e. copy_file_range, what {@code cp} uses) in the same process, rounds
 * alternating which goes first; before each timing the outputs are deleted and {@code sync} lets
 * earlier writes land, while the source stays in the page cache. This is the packer's own throughput: reading the source's header,
 * copying every tensor, CRC32C of each, the manifest; JVM start-up, which a 133 MB model cannot hide,
 * is what {@code pack-model-vs-cp.sh} adds on top.
 *
 * <p>Warm-up rounds are discarded: the packer's own code (the ONNX scan above all) needs a few dozen
 * runs before the JIT has compiled it, and a packing service would run warm.
 *
 * <pre>usage: PackThroughput SOURCE WORKDIR [ROUNDS [WARMUP]]   (defaults 7 and 10)</pre>
 */
public final class PackThroughput {
    private PackThroughput() {}

    public static void main(String[] args) throws Exception {
        Path source = Path.of(args[0]);
        Path work = Files.createDirectories(Path.of(args[1]));
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 7;
        int warmup = args.length > 3 ? Integer.parseInt(args[3]) : 10;
        long bytes = Files.size(source);
        Path image = work.resolve("pack.daxfs");
        Path copy = work.resolve("copy.bin");
        double[] pack = new double[rounds];
        double[] cp = new double[rounds];
        for (int r = -warmup; r < rounds; r++) {
            for (int k = 0; k < 2; k++) {
                boolean packFirst = Math.floorMod(r, 2) == 0;
                boolean doPack = (k == 0) == packFirst;
                Files.deleteIfExists(image);
                Files.deleteIfExists(copy);
                // The last round's output may still be on its way to disk; let it land, so that
                // neither side pays for the other's writeback.
                sync();
                long t0 = System.nanoTime();
                if (doPack) {
                    ModelPackager p = new ModelPackager();
                    p.model("m").add(SourceReaders.standard().read(source));
                    p.write(new ImageWriter(), image);
                } else {
                    try (FileChannel in = FileChannel.open(source);
                         FileChannel out = FileChannel.open(copy, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                        for (long done = 0; done < bytes; ) {
                            done += in.transferTo(done, bytes - done, out);
                        }
                    }
                }
                double s = (System.nanoTime() - t0) / 1e9;
                if (r >= 0) {
                    (doPack ? pack : cp)[r] = s;
                }
            }
        }
        Files.deleteIfExists(image);
        Files.deleteIfExists(copy);
        double mp = median(pack), mc = median(cp);
        System.out.printf("source %s (%d bytes), %d rounds in one JVM after %d warm-up rounds%n", source, bytes, rounds, warmup);
        System.out.printf("pack  median %.3f s (%.0f MB/s)  rounds %s%n", mp, bytes / mp / 1e6, Arrays.toString(pack));
        System.out.printf("copy  median %.3f s (%.0f MB/s)  rounds %s%n", mc, bytes / mc / 1e6, Arrays.toString(cp));
        System.out.printf("throughput pack/copy: %.2f (goal >= 0.8)%n", mc / mp);
    }

    static void sync() throws IOException, InterruptedException {
        int rc = new ProcessBuilder("sync").inheritIO().start().waitFor();
        if (rc != 0) {
            throw new IOException("sync exited with " + rc);
        }
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
