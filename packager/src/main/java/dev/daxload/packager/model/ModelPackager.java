package dev.daxload.packager.model;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.daxload.manifest.DType;
import dev.daxload.manifest.ModelManifest;
import dev.daxload.manifest.TensorEntry;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageLayout;
import dev.daxload.packager.image.ImageTarget;
import dev.daxload.packager.image.ImageTree;
import dev.daxload.packager.image.ImageTree.Attributes;
import dev.daxload.packager.image.ImageTree.Directory;
import dev.daxload.packager.image.ImageTree.RegularFile;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.source.MemoryBudget;
import dev.daxload.packager.source.SourceModel;
import dev.daxload.packager.source.SourceTensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Lays models out in an {@link ImageTree} the way loaders expect them:
 *
 * <pre>
 * /&lt;model&gt;/manifest.json      name, dtype, shape, absolute offset, length, CRC32C of every tensor
 * /&lt;model&gt;/tensors/&lt;name&gt;     one file per tensor: raw little-endian bytes, as the source stored them
 * /&lt;model&gt;/tables/&lt;name&gt;/...  lookup tables
 * /&lt;model&gt;/files/...          side files, verbatim (the ONNX graph, tokenizer.json, config.json)
 * </pre>
 *
 * <p>The manifest is a late file: it is made once every tensor has landed and been checksummed, so it
 * can record absolute offsets. Use {@link #write} to write the image, or pass {@link #listener()} to an
 * {@link ImageWriter} of your own.
 */
public final class ModelPackager {
    private static final Attributes FILE = new Attributes(0444, 0, 0);
    private static final Attributes DIR = new Attributes(0555, 0, 0);

    private final ImageTree tree;
    private final Map<RegularFile, Boolean> tensorFiles = new IdentityHashMap<>();
    private final Checksummer checksummer = new Checksummer(tensorFiles);

    public ModelPackager(ImageTree tree) {
        this.tree = tree;
    }

    /** A packager with a fresh tree whose root is mode 0755, owned by root. */
    public ModelPackager() {
        this(new ImageTree());
    }

    public ImageTree tree() {
        return tree;
    }

    /** What one model directory will hold; tables are added by their builders into {@link #tablesDirectory()}. */
    public final class Model {
        private final String name;
        private final Directory dir;
        private final Map<String, SourceTensor> tensors = new LinkedHashMap<>();
        private final Map<String, RegularFile> tensorNodes = new HashMap<>();
        private final Map<String, String> tensorFileNames = new HashMap<>();
        private final List<SourceModel> sources = new ArrayList<>();
        private final List<String> sideFiles = new ArrayList<>();
        private final List<String> tables = new ArrayList<>();

        private Model(String name) {
            ImageTree.checkName(name);
            if (tree.root().get(name) != null) {
                throw new IllegalArgumentException("'" + name + "' is already in the image");
            }
            this.name = name;
            this.dir = tree.root().directory(name, DIR);
            dir.file(ModelManifest.FILE_NAME, FileContent.late(this::manifest), FILE);
        }

        /** Adds the tensors, metadata and side files of a source; tensor names must stay unique. */
        public Model add(SourceModel source) {
            Directory tdir = dir.directory("tensors", DIR);
            long total = tensors.size() + source.tensors().size();
            if (total > MemoryBudget.bytes() / MemoryBudget.HEAP_PER_TENSOR) {
                String where = source.files().isEmpty() ? "model '" + name + "'" : source.files().get(0).toString();
                throw new IllegalArgumentException(where + ": " + total + " tensors in model '" + name + "' would take about "
                        + (total * MemoryBudget.HEAP_PER_TENSOR >> 20) + " MiB of heap to pack, over this JVM's budget of "
                        + (MemoryBudget.bytes() >> 20) + " MiB (a quarter of the maximum heap): raise -Xmx to pack it");
            }
            for (SourceTensor t : source.tensors()) {
                if (tensors.containsKey(t.name())) {
                    throw new IllegalArgumentException("model '" + name + "': tensor '" + t.name() + "' comes from two sources");
                }
                DType dtype = DType.byName(t.dtype()).orElseThrow(() ->
                        new IllegalArgumentException("tensor '" + t.name() + "': dtype '" + t.dtype() + "' has no manifest name"));
                long elements = DType.elementCount(t.shape());
                long expect = elements < 0 ? -1 : dtype.byteSize(elements).orElse(-1L);
                if (expect != t.content().size()) {
                    throw new IllegalArgumentException("tensor '" + t.name() + "': " + t.content().size() + " bytes, but shape "
                            + java.util.Arrays.toString(t.shape()) + " of " + dtype + " needs " + expect);
                }
                String where = source.files().isEmpty() ? "model '" + name + "'" : source.files().get(0).toString();
                LoaderRules.checkTensor(name, new TensorEntry(t.name(), "tensors/t", dtype, t.shape(), 0, t.content().size(), null), where);
                String file = TensorFileNames.encode(t.name());
                if (tdir.get(file) != null) {
                    throw new IllegalArgumentException("tensors '" + t.name() + "' and another encode to the same file name '" + file + "'");
                }
                RegularFile node = tdir.file(file, t.content(), FILE);
                tensorFiles.put(node, Boolean.TRUE);
                tensors.put(t.name(), t);
                tensorNodes.put(t.name(), node);
                tensorFileNames.put(t.name(), "tensors/" + file);
            }
            for (var e : source.sideFiles().entrySet()) {
                sideFile(e.getKey(), e.getValue());
            }
            sources.add(source);
            return this;
        }

        /** The image file that will hold tensor {@code tensorName}, or null when the model has no such tensor. */
        public RegularFile tensorFile(String tensorName) {
            return tensorNodes.get(tensorName);
        }

        /** Copies a file verbatim to {@code files/<relativePath>}. */
        public Model sideFile(String relativePath, FileContent content) {
            Directory d = dir.directory("files", DIR);
            String[] parts = relativePath.split("/");
            for (int i = 0; i < parts.length - 1; i++) {
                d = d.directory(parts[i], DIR);
            }
            d.file(parts[parts.length - 1], content, FILE);
            sideFiles.add("files/" + relativePath);
            return this;
        }

        /**
         * A subdirectory of the model's own that the manifest does not describe (ONNX Runtime's optimized
         * forms, say), created on first use.
         */
        public Directory directory(String subdirectory) {
            return dir.directory(subdirectory, DIR);
        }

        /** The model's name: its directory at the image root. */
        public String name() {
            return name;
        }

        /** The directory lookup tables go in; name each table with {@link #table}. */
        public Directory tablesDirectory() {
            return dir.directory("tables", DIR);
        }

        /** Records a table added under {@link #tablesDirectory()}, for the manifest. */
        public Model table(String tableName) {
            tables.add("tables/" + tableName);
            return this;
        }

        private byte[] manifest(ImageLayout layout) throws IOException {
            List<TensorEntry> entries = new ArrayList<>(tensors.size());
            for (SourceTensor t : tensors.values()) {
                RegularFile node = tensorNodes.get(t.name());
                long length = t.content().size();
                entries.add(new TensorEntry(t.name(), tensorFileNames.get(t.name()), DType.byName(t.dtype()).orElseThrow(),
                        t.shape(), length == 0 ? 0 : layout.offsetOf(node), length, checksummer.crcOf(node)));
            }
            JsonObject source = new JsonObject();
            JsonArray files = new JsonArray();
            JsonObject metadata = new JsonObject();
            List<String> formats = new ArrayList<>();
            for (SourceModel s : sources) {
                if (!formats.contains(s.format())) {
                    formats.add(s.format());
                }
                for (Path p : s.files()) {
                    JsonObject f = new JsonObject();
                    f.addProperty("path", p.getFileName().toString());
                    f.addProperty("size", Files.size(p));
                    files.add(f);
                }
                for (var e : s.metadata().entrySet()) {
                    metadata.add(e.getKey(), e.getValue());
                }
            }
            source.addProperty("format", String.join("+", formats));
            source.add("files", files);
            byte[] json = new ModelManifest(name, source, metadata, entries, sideFiles, tables).toJson();
            LoaderRules.checkManifest(json, name + "/" + ModelManifest.FILE_NAME); // every rule the loader applies, on what it will read
            return json;
        }
    }

    /** Starts a model directory at the image root. */
    public Model model(String name) {
        return new Model(name);
    }

    /** The listener that records tensors' checksums as an {@link ImageWriter} writes them. */
    public ImageWriter.FileWrittenListener listener() {
        return checksummer;
    }

    /** Writes the image with {@code writer}, checksumming tensors on the way. */
    public ImageLayout write(ImageWriter writer, Path target) throws IOException {
        return writer.onFileWritten(checksummer).write(tree, target);
    }

    /** Writes the image to a resolved target (a file, a device, a FIFO); see {@link ImageWriter#write(ImageTree, ImageTarget)}. */
    public ImageLayout write(ImageWriter writer, ImageTarget target) throws IOException {
        return writer.onFileWritten(checksummer).write(tree, target);
    }

    /** Writes the image as a stream of bytes in order (standard output, say). */
    public ImageLayout write(ImageWriter writer, java.nio.channels.WritableByteChannel out) throws IOException {
        return writer.onFileWritten(checksummer).write(tree, out);
    }
}
