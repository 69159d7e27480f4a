package dev.daxload.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.daxload.image.DaxImage;
import dev.daxload.manifest.ModelCatalog;
import dev.daxload.manifest.TensorEntry;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "tensors", mixinStandardHelpOptions = true, description = "List the tensors of an image's models: name, dtype, shape, size, offset.")
final class TensorsCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IMAGE")
    Path imagePath;

    @Parameters(index = "1", arity = "0..1", paramLabel = "MODEL", description = "one model (default: all)")
    String model;

    @Option(names = "--sort", paramLabel = "KEY", defaultValue = "manifest",
            description = "manifest (as stored), name, size, offset or dtype (default: ${DEFAULT-VALUE})")
    String sort;

    @Option(names = {"-r", "--reverse"}, description = "reverse the order")
    boolean reverse;

    @Option(names = "--json", description = "one JSON document, for scripts (fields: docs/cli-json.md)")
    boolean json;

    record Row(String model, TensorEntry t) {}

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        try (DaxImage image = ImageArgument.open(imagePath)) {
            List<String> names = model != null ? List.of(model) : ModelCatalog.models(image);
            List<Row> rows = new ArrayList<>();
            for (String m : names) {
                for (TensorEntry t : ModelCatalog.load(image, m).tensors()) {
                    rows.add(new Row(m, t));
                }
            }
            Comparator<Row> order = switch (sort) {
                case "manifest" -> null;
                case "name" -> Comparator.comparing((Row r) -> r.model).thenComparing(r -> r.t.name());
                case "size" -> Comparator.comparingLong((Row r) -> r.t.length());
                case "offset" -> Comparator.comparingLong((Row r) -> r.t.offset());
                case "dtype" -> Comparator.comparing((Row r) -> r.t.dtype().name()).thenComparing(r -> r.t.name());
                default -> throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                        "--sort must be manifest, name, size, offset or dtype, not '" + sort + "'");
            };
            if (order != null) {
                rows.sort(order);
            }
            if (reverse) {
                java.util.Collections.reverse(rows);
            }
            if (json) {
                JsonArray arr = new JsonArray();
                for (Row r : rows) {
                    JsonObject o = new JsonObject();
                    o.addProperty("model", r.model);
                    o.addProperty("name", r.t.name());
                    o.addProperty("dtype", r.t.dtype().name());
                    JsonArray shape = new JsonArray();
                    Arrays.stream(r.t.shape()).forEach(shape::add);
                    o.add("shape", shape);
                    o.addProperty("length", r.t.length());
                    o.addProperty("offset", r.t.offset());
                    o.addProperty("file", r.model + "/" + r.t.file());
                    if (r.t.crc32c() != null) {
                        o.addProperty("crc32c", String.format("%08x", r.t.crc32c()));
                    }
                    arr.add(o);
                }
                JsonObject doc = JsonOutput.document("tensors");
                doc.addProperty("image", imagePath.toString());
                doc.add("tensors", arr);
                JsonOutput.print(out, doc);
            } else {
                int w = rows.stream().mapToInt(r -> (names.size() > 1 ? r.model.length() + 1 : 0) + r.t.name().length()).max().orElse(4);
                w = Math.max(4, Math.min(w, 80));
                out.printf("%-" + w + "s  %-7s %-22s %12s %14s%n", "NAME", "DTYPE", "SHAPE", "SIZE", "OFFSET");
                for (Row r : rows) {
                    String n = names.size() > 1 ? r.model + "/" + r.t.name() : r.t.name();
                    out.printf("%-" + w + "s  %-7s %-22s %12s %14d%n", n, r.t.dtype(), Arrays.toString(r.t.shape()),
                            Sizes.human(r.t.length()), r.t.offset());
                }
            }
            out.flush();
        }
        return 0;
    }

}
