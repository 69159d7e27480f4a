package dev.daxload.cli;

import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageLayout;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.image.TreeScanner;
import dev.daxload.packager.model.ModelDirectory;
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
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "pack-model", mixinStandardHelpOptions = true,
        description = {"Pack models (and plain trees) into one DAXFS image.",
            "Each --name starts a model; the SOURCEs after it are its weights (safetensors, sharded safetensors"
                + " directory or index, GGUF, ONNX, PyTorch state dicts (.pt, .pth, pytorch_model.bin), .npy, .npz,"
                + " raw tensor directory), HuggingFace model directories (weights in one format plus every side file),"
                + " and side files known by extension (.json, .txt, .model, ...), copied to files/. Any other file is an"
                + " error unless named with --file NAME=SRC.",
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

        @Option(names = "--file", paramLabel = "NAME=SRC",
                description = "a side file of this model, copied as it is to files/NAME (NAME may hold '/'; SRC alone keeps its file name):"
                        + " --file tokenizer.json=all-minilm-tokenizer.json")
        List<String> files = new ArrayList<>();

        @Option(names = "--table", paramLabel = "NAME=FILE[:key=COL]",
                description = "a lookup table for this model, from CSV, TSV (.tsv) or JSON Lines (.jsonl), keyed by column COL")
        List<String> tables = new ArrayList<>();
    }

    @picocli.CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Extensions of files that are side files when named as a SOURCE: configs, tokenizers, vocabularies, docs. */
    static final List<String> PLAIN_SIDE_FILES = List.of("json", "txt", "md", "model", "yaml", "yml", "jinja", "tiktoken",
            "vocab", "spm", "py", "toml", "cfg", "ini");

    static boolean isPlainSideFile(Path file) {
        String name = file.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        int dot = name.lastIndexOf('.');
        return dot > 0 && PLAIN_SIDE_FILES.contains(name.substring(dot + 1)) && !ModelDirectory.looksLikeWeights(file);
    }

    @Option(names = "--tree", paramLabel = "DIR", description = "a plain directory tree to put at the image root beside the models")
    List<Path> trees = new ArrayList<>();

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "IMAGE", description = "the image to write: a file (replaced only when complete; symlinks followed), a block or character device (written in place), or - for standard output")
    Path output;

    @Option(names = "--align", paramLabel = "SIZE", converter = Sizes.AlignmentConverter.class, defaultValue = "4096",
            description = "align tensors at least SIZE long to SIZE, e.g. 2M for huge-page mappings (default: ${DEFAULT-VALUE})")
    long align;

    @Option(names = "--ort-prepack", description = "for each ONNX model, also store ONNX Runtime's optimized form (graph,"
            + " weights and prepacked blobs) made here, for this ORT version and CPU; daxfs: loads on a matching machine use it")
    boolean ortPrepack;

    @Option(names = {"-q", "--quiet"}, description = "no progress bar, no summary")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        ImageOutput out = ImageOutput.of(output);
        long t0 = System.nanoTime();
        SourceReaders readers = SourceReaders.standard();
        List<TableBuilder> tables = new ArrayList<>();
        ModelPackager packager = new ModelPackager();
        OrtFormPackager ortForms = new OrtFormPackager();
        try {
            int tensors = 0;
            int sideFiles = 0;
            for (ModelSpec spec : models) {
                ModelPackager.Model model = packager.model(spec.name);
                for (Path source : spec.sources) {
                    if (source.toString().equals("-")) {
                        throw new CommandLine.ParameterException(this.spec.commandLine(), "SOURCE '-': pack-model reads"
                                + " weights from files it can map, not from standard input; name the file");
                    }
                    if (Files.isDirectory(source)) {
                        ModelDirectory d = ModelDirectory.read(source, readers);
                        for (var read : d.weights()) {
                            model.add(read);
                            tensors += read.tensors().size();
                            sideFiles += read.sideFiles().size();
                        }
                        for (var f : d.sideFiles().entrySet()) {
                            model.sideFile(f.getKey(), FileContent.of(f.getValue(), Files.size(f.getValue())));
                            sideFiles++;
                        }
                        if (!d.leftOut().isEmpty()) {
                            this.spec.commandLine().getErr().println("daxload pack-model: " + source + ": weights taken from the " + d.format()
                                    + " files; left out (the same model in other formats): " + String.join(", ", d.leftOut()));
                        }
                        continue;
                    }
                    Optional<SourceReader> reader = readers.find(source);
                    if (reader.isPresent()) {
                        var read = reader.get().read(source);
                        model.add(read);
                        tensors += read.tensors().size();
                        sideFiles += read.sideFiles().size();
                        if (ortPrepack && "onnx".equals(read.format())) {
                            OrtLogging.errorsOnly();
                            ortForms.optimize(model, source);
                        }
                    } else if (Files.isRegularFile(source) && isPlainSideFile(source)) {
                        model.sideFile(source.getFileName().toString(), FileContent.of(source, Files.size(source)));
                        sideFiles++;
                    } else if (Files.isRegularFile(source)) {
                        throw new IllegalArgumentException(source + ": not weights daxload reads (safetensors, GGUF, ONNX,"
                                + " PyTorch state dicts, .npy, .npz) nor a side file it knows by its extension ("
                                + String.join(", ", PLAIN_SIDE_FILES) + "); to copy it as it is, say --file "
                                + source.getFileName() + "=" + source);
                    } else {
                        throw new java.nio.file.NoSuchFileException(source.toString());
                    }
                }
                for (String f : spec.files) {
                    int eq = f.indexOf('=');
                    Path src = Path.of(eq < 0 ? f : f.substring(eq + 1));
                    String name = eq < 0 ? src.getFileName().toString() : f.substring(0, eq);
                    if (name.isEmpty() || name.startsWith("/") || List.of(name.split("/")).contains("..")) {
                        throw new CommandLine.ParameterException(this.spec.commandLine(), "--file '" + f
                                + "': NAME must be a relative path inside files/ (expected NAME=SRC or SRC)");
                    }
                    if (!Files.isRegularFile(src)) {
                        throw new java.nio.file.NoSuchFileException(src.toString(), null, "--file " + f + ": no such regular file");
                    }
                    model.sideFile(name, FileContent.of(src, Files.size(src)));
                    sideFiles++;
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
            ImageLayout layout;
            try (ProgressBar bar = new ProgressBar("packing", quiet)) {
                layout = out.write(new ImageWriter().alignment(align).progress(bar).check(ImageOutput::validate), packager);
            }
            if (!quiet) {
                System.err.printf("%s: %d models, %d tensors, %d side files, %s in %.2f s%n", out.describe(), models.size(), tensors, sideFiles,
                        Sizes.human(layout.size()), (System.nanoTime() - t0) / 1e9);
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
