package dev.daxload.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.daxload.image.DaxImage;
import dev.daxload.image.internal.DaxfsLayout;
import dev.daxload.image.ImageProblem;
import dev.daxload.image.Superblock;
import dev.daxload.manifest.ModelCatalog;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"Show an image's superblock fields, regions, counts and sizes, and each model in it: source",
            "format, tensors (count, dtypes, bytes, alignment, checksums), side files and lookup tables."})
final class InspectCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IMAGE")
    Path imagePath;

    @Option(names = "--json", description = "one JSON document, for scripts (fields: docs/cli-json.md)")
    boolean json;

    /** Counts of the tree: directories (root included), files, extra hard-link names, symlinks, bytes. */
    record Contents(long directories, long files, long hardLinks, long symlinks, long fileBytes, long metadataBytes) {}

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        try (DaxImage image = ImageArgument.open(imagePath)) {
            Superblock sb = image.superblock();
            Contents c = contents(image, sb);
            List<String> problems = new ArrayList<>();
            List<ModelSummary> models = models(image, problems);
            if (json) {
                JsonOutput.print(out, json(image, sb, c, models, problems));
            } else {
                text(out, image, sb, c, models, problems);
            }
        }
        return 0;
    }

    /**
     * Every model that can be read; each one that cannot is named in {@code problems} instead, so that
     * inspect still shows the rest of a damaged image (verify is the command that judges it).
     */
    private static List<ModelSummary> models(DaxImage image, List<String> problems) {
        List<ModelSummary> models = new ArrayList<>();
        List<String> names;
        try {
            names = ModelCatalog.models(image);
        } catch (IOException | RuntimeException e) {
            problems.add("models: " + e.getMessage());
            return models;
        }
        for (String name : names) {
            try {
                models.add(ModelSummary.of(image, ModelCatalog.load(image, name)));
            } catch (IOException | RuntimeException e) {
                problems.add("model " + name + ": " + e.getMessage());
            }
        }
        return models;
    }

    private static Contents contents(DaxImage image, Superblock sb) {
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
        long metadata = 2L * DaxfsLayout.BLOCK_SIZE + sb.inodeCount() * DaxfsLayout.INODE_SIZE + bytes[1];
        return new Contents(counts[0] + 1, counts[1], counts[3], counts[2], bytes[0], metadata);
    }

    private void text(PrintWriter out, DaxImage image, Superblock sb, Contents c, List<ModelSummary> models, List<String> problems) {
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
        out.println("contents");
        out.printf("  directories  %d (root included)%n  files        %d%n  hard links   %d extra names%n  symlinks     %d%n",
                c.directories(), c.files(), c.hardLinks(), c.symlinks());
        long total = image.segment().byteSize();
        out.printf("  file data    %d bytes (%s), %.1f%% of the image%n", c.fileBytes(), Sizes.human(c.fileBytes()),
                total == 0 ? 0 : 100.0 * c.fileBytes() / total);
        out.printf("  metadata     %d bytes (superblocks, inode table, directory entries)%n", c.metadataBytes());
        out.printf("models         %s%n", models.isEmpty() ? "none" : models.size());
        models.forEach(m -> m.print(out));
        if (!image.warnings().isEmpty() || !problems.isEmpty()) {
            out.println("warnings");
            for (ImageProblem p : image.warnings()) {
                out.println("  " + p);
            }
            problems.forEach(p -> out.println("  " + p));
        }
        out.flush();
    }

    private JsonObject json(DaxImage image, Superblock sb, Contents c, List<ModelSummary> models, List<String> problems) {
        JsonObject o = JsonOutput.document("inspect");
        o.addProperty("image", imagePath.toString());
        o.addProperty("size", image.segment().byteSize());
        o.addProperty("kind", sb.isStatic() ? "static" : "branching");
        JsonObject s = new JsonObject();
        s.addProperty("version", sb.version());
        s.addProperty("flags", sb.flags());
        s.addProperty("blockSize", sb.blockSize());
        s.addProperty("totalSize", sb.totalSize());
        s.addProperty("baseOffset", sb.baseOffset());
        s.addProperty("baseSize", sb.baseSize());
        s.addProperty("baseFlags", sb.baseFlags());
        s.addProperty("baseTotalSize", sb.baseTotalSize());
        s.addProperty("inodeOffset", sb.inodeOffset());
        s.addProperty("inodeCount", sb.inodeCount());
        s.addProperty("rootInode", sb.rootInode());
        s.addProperty("dataOffset", sb.dataOffset());
        o.add("superblock", s);
        JsonObject k = new JsonObject();
        k.addProperty("directories", c.directories());
        k.addProperty("files", c.files());
        k.addProperty("hardLinks", c.hardLinks());
        k.addProperty("symlinks", c.symlinks());
        k.addProperty("fileBytes", c.fileBytes());
        k.addProperty("metadataBytes", c.metadataBytes());
        o.add("contents", k);
        JsonArray ms = new JsonArray();
        models.forEach(m -> ms.add(m.json()));
        o.add("models", ms);
        JsonArray w = new JsonArray();
        image.warnings().forEach(p -> w.add(p.toString()));
        problems.forEach(w::add);
        o.add("warnings", w);
        return o;
    }
}
