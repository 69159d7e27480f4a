package dev.daxload.cli;

import dev.daxload.image.DaxImage;
import dev.daxload.image.DaxfsLayout;
import dev.daxload.image.ImageProblem;
import dev.daxload.image.Superblock;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "inspect", mixinStandardHelpOptions = true, description = "Show an image's superblock fields, regions, counts and sizes.")
final class InspectCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IMAGE")
    Path imagePath;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        try (DaxImage image = DaxImage.open(imagePath)) {
            Superblock sb = image.superblock();
            out.printf("image          %s (%d bytes, %s)%n", imagePath, image.segment().byteSize(), Sizes.human(image.segment().byteSize()));
            out.printf("kind           %s%n", sb.isStatic() ? "static (read-only)" : "branching (" + sb.branchTableEntries() + " branch slots)");
            out.println("superblock");
            out.printf("  version      %d%n  flags        0x%x%n  block_size   %d%n  total_size   %d%n  base_offset  %d%n  base_size    %d%n",
                    sb.version(), sb.flags(), sb.blockSize(), sb.totalSize(), sb.baseOffset(), sb.baseSize());
            out.println("base superblock");
            out.printf("  flags        0x%x%n  total_size   %d%n  inode_offset %d%n  inode_count  %d%n  root_inode   %d%n  data_offset  %d%n",
                    sb.baseFlags(), sb.baseTotalSize(), sb.inodeOffset(), sb.inodeCount(), sb.rootInode(), sb.dataOffset());
            long tableStart = sb.baseOffset() + sb.inodeOffset();
            long tableEnd = tableStart + sb.inodeCount() * DaxfsLayout.INODE_SIZE;
            out.println("regions (absolute offsets)");
            out.printf("  superblock       [%d, %d)%n", 0, DaxfsLayout.BLOCK_SIZE);
            out.printf("  base superblock  [%d, %d)%n", sb.baseOffset(), sb.baseOffset() + DaxfsLayout.BLOCK_SIZE);
            out.printf("  inode table      [%d, %d)%n", tableStart, tableEnd);
            out.printf("  data area        [%d, %d)%n", sb.baseOffset() + sb.dataOffset(), sb.baseOffset() + sb.baseTotalSize());
            long[] counts = new long[4]; // dirs, files, symlinks, extra hard-link names
            long[] bytes = new long[2];  // file bytes (once per inode), directory entry bytes
            java.util.Set<Long> seen = new java.util.HashSet<>();
            image.walk(e -> {
                var n = e.inode();
                if (n.isDirectory()) {
                    counts[0]++;
                    bytes[1] += n.entryCount() * DaxfsLayout.DIRENT_STRIDE;
                } else if (n.isSymlink()) {
                    counts[2]++;
                } else if (seen.add(n.ino())) {
                    counts[1]++;
                    bytes[0] += n.size();
                } else {
                    counts[3]++;
                }
            });
            out.println("contents");
            out.printf("  directories  %d (root included)%n  files        %d%n  hard links   %d extra names%n  symlinks     %d%n",
                    counts[0] + 1, counts[1], counts[3], counts[2]);
            long total = image.segment().byteSize();
            out.printf("  file data    %d bytes (%s), %.1f%% of the image%n", bytes[0], Sizes.human(bytes[0]), total == 0 ? 0 : 100.0 * bytes[0] / total);
            out.printf("  metadata     %d bytes (superblocks, inode table, directory entries)%n",
                    2L * DaxfsLayout.BLOCK_SIZE + sb.inodeCount() * DaxfsLayout.INODE_SIZE + bytes[1]);
            if (!image.warnings().isEmpty()) {
                out.println("warnings");
                for (ImageProblem p : image.warnings()) {
                    out.println("  " + p);
                }
            }
            out.flush();
        }
        return 0;
    }
}
