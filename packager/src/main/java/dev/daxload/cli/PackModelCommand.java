package dev.daxload.cli;

import dev.daxload.image.DaxImage;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.image.TreeScanner;
import dev.daxload.packager.model.ModelPackager;
import dev.daxload.packager.ort.OrtFormPackager;
import dev.daxload.packager.source.SourceReader;
import dev.daxload.packager.source.SourceReaders;
import dev.daxload.packager.table.TableBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "pack-model", mixinStandardHelpOptions = true,
        description = {"Pack models (and plain trees) into one DAXFS image.",
            "Each --name starts a model; the SOURCEs after it are its weights (safetensors, sharded safetensors"
                + " directory or index, GGUF, ONNX, .npy, .npz, raw tensor directory) and side files (any other"
                + " file: tokenizer.json, config.json), copied to files/.",
            "Tables: CSV is RFC 4180 (quoted fields); .tsv is tab-separated with no quoting, so a quote is an"
                + " ordinary character; .jsonl is one JSON object a line.",
            "Example: daxload pack-model --name minilm model.onnx tokenizer.json --table vocab=vocab.csv:key=token"
                + " --name vad silero.safetensors --tree ./etc -o models.daxfs"})
final class PackModelCommand implements Callable<Integer> {
    @ArgGroup(exclusive = false, multiplicity = "1..*")
    List<ModelSpec> models;

    static final class ModelSpec {
        @Option(names = "--name", required = true, paramLabel = "NAME", description = "starts a model: its directory at the image root")
        String name;

        @Parameters(arity = "1..*", paramLabel = "SOURCE", description = "weights and side files of this model")
        List<Path> sources;

        @Option(names = "--table", paramLabel = "NAME=FILE[:key=COL]",
                description = "a lookup table for this model, from CSV, TSV (.tsv) or JSON Lines (.jsonl), keyed by column COL")
        List<String> tables = new ArrayList<>();
    }

    @Option(names = "--tree", paramLabel = "DIR", description = "a plain directory tree to put at the image root beside the models")
    List<Path> trees = new ArrayList<>();

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "IMAGE", description = "the image to write (replaced only when complete)")
    Path output;

    @Option(names = "--align", paramLabel = "SIZE", converter = Sizes.Converter.class, defaultValue = "4096",
            description = "align tensors at least SIZE long to SIZE, e.g. 2M for huge-page mappings (default: ${DEFAULT-VALUE})")
    long align;

    @Option(names = "--ort-prepack", description = "for each ONNX model, also store ONNX Runtime's optimized form (graph,"
            + " weights and prepacked blobs) made here, for this ORT version and CPU; daxfs: loads on a matching machine use it")
    boolean ortPrepack;

    @Option(names = {"-q", "--quiet"}, description = "no progress bar, no summary")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        long t0 = System.nanoTime();
        SourceReaders readers = SourceReaders.standard();
        List<TableBuilder> tables = new ArrayList<>();
        ModelPackager packager = new ModelPackager();
        OrtFormPackager ortForms = new OrtFormPackager();
        try {
            int tensors = 0;
            for (ModelSpec spec : models) {
                ModelPackager.Model model = packager.model(spec.name);
                for (Path source : spec.sources) {
                    Optional<SourceReader> reader = readers.find(source);
                    if (reader.isPresent()) {
                        var read = reader.get().read(source);
                        model.add(read);
                        tensors += read.tensors().size();
                        if (ortPrepack && "onnx".equals(read.format())) {
                            ortForms.optimize(model, source);
                        }
                    } else if (Files.isRegularFile(source)) {
                        model.sideFile(source.getFileName().toString(), FileContent.of(source, Files.size(source)));
                    } else if (Files.isDirectory(source)) {
                        throw new IllegalArgumentException(source + ": a directory with no weights daxload knows (for a plain tree use --tree)");
                    } else {
                        throw new java.nio.file.NoSuchFileException(source.toString());
                    }
                }
                for (String t : spec.tables) {
                    TableBuilder b = table(t);
                    tables.add(b);
                    String name = t.substring(0, t.indexOf('='));
                    b.addTo(model.tablesDirectory(), name);
                    model.table(name);
                }
            }
            for (Path tree : trees) {
                packager.tree().merge(new TreeScanner(w -> System.err.println("daxload pack-model: warning: " + w)).scan(tree));
            }
            try (ProgressBar bar = new ProgressBar("packing", quiet)) {
                packager.write(new ImageWriter().alignment(align).progress(bar), output);
            }
            try (DaxImage image = DaxImage.open(output)) {
                if (!image.warnings().isEmpty()) {
                    throw new IllegalStateException("wrote an image with problems (a daxload bug): " + image.warnings());
                }
            }
            if (!quiet) {
                System.err.printf("%s: %d models, %d tensors, %s in %.2f s%n", output, models.size(), tensors,
                        Sizes.human(Files.size(output)), (System.nanoTime() - t0) / 1e9);
            }
        } finally {
            ortForms.close();
            for (TableBuilder b : tables) {
                b.close();
            }
        }
        return 0;
    }

    /** {@code NAME=FILE[:key=COL]}; the format follows the file's extension. */
    private static TableBuilder table(String spec) {
        int eq = spec.indexOf('=');
        if (eq <= 0) {
            throw new IllegalArgumentException("--table '" + spec + "': expected NAME=FILE[:key=COL]");
        }
        String rest = spec.substring(eq + 1);
        String key = null;
        int colon = rest.lastIndexOf(":key=");
        if (colon >= 0) {
            key = rest.substring(colon + ":key=".length());
            rest = rest.substring(0, colon);
        }
        Path file = Path.of(rest);
        String lower = file.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        TableBuilder b = lower.endsWith(".tsv") ? TableBuilder.tsv(file)
                : lower.endsWith(".jsonl") || lower.endsWith(".ndjson") ? TableBuilder.jsonLines(file)
                : TableBuilder.csv(file);
        return key == null ? b : b.key(key);
    }
}
