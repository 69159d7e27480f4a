package dev.daxload.packager.source;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.source.onnxproto.AttributeProto;
import dev.daxload.packager.source.onnxproto.GraphProto;
import dev.daxload.packager.source.onnxproto.ModelProto;
import dev.daxload.packager.source.onnxproto.NodeProto;
import dev.daxload.packager.source.onnxproto.OperatorSetIdProto;
import dev.daxload.packager.source.onnxproto.SparseTensorProto;
import dev.daxload.packager.source.onnxproto.StringStringEntryProto;
import dev.daxload.packager.source.onnxproto.TensorProto;
import dev.daxload.packager.source.onnxproto.ValueInfoProto;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Reads ONNX models ({@code .onnx}, protobuf {@code ModelProto}) with protobuf-java and classes that
 * protoc generates from daxload's {@code onnx_subset.proto}.
 *
 * <p><b>Tensors.</b> Every initializer of the top-level graph becomes a tensor under its own name.
 * {@code raw_data} is located inside the .onnx file and described as a range of it, without being read
 * ({@link OnnxFileScanner}), so packing copies the weights once, file to image; tensors stored in ONNX's typed fields
 * ({@code float_data}, {@code int32_data}, ...) are converted to little-endian bytes; tensors with
 * external data become ranges of their external files, which must lie under the model's directory.
 * Initializers of subgraphs, {@code Constant} nodes and sparse initializers stay inside the graph
 * (they are rarely large); if one of them keeps its data in an external file the model is refused,
 * because the graph copied into the image could not find that file.
 *
 * <p><b>The graph.</b> The side file {@value #GRAPH_FILE} is the model with every top-level
 * initializer's data removed. Each initializer keeps its name, data_type and dims and is marked
 * {@code data_location = EXTERNAL} with {@code external_data} {@code location =}
 * {@value #EXTERNAL_PLACEHOLDER}, {@code offset = 0} and its true {@code length}: a file that does not
 * exist, because the loader is meant to supply every initializer from the image's memory. They stay
 * initializers rather than becoming graph inputs because ONNX Runtime matches user-supplied
 * initializers only against the graph's initializers (session_state_utils.cc walks
 * {@code GetAllInitializedTensors()}); a graph input would be a feed the caller must pass on every run.
 * They are marked external rather than left empty because that is what both ways of supplying them
 * accept. Checked with all-MiniLM-L6-v2 and ONNX Runtime's Java API, comparing outputs with the
 * unstripped model: on 1.21.1 (the version DJL 0.36 uses) {@code SessionOptions.addInitializer} works
 * at every optimisation level and the session reads the caller's memory (changing the buffers after
 * session creation changes the output); {@code addExternalInitializers} works on 1.21.1 and 1.29.0
 * but copies the data. On 1.29.0 {@code addInitializer} fails for a stripped model either way (empty
 * initializers fail a size check, external ones a check that the file exists), so newer runtimes need
 * {@code addExternalInitializers}. An initializer that the loader forgets fails session creation
 * loudly (the placeholder file is missing) instead of running with zeros.
 *
 * <p><b>Metadata.</b> ir_version, producer, domain, model_version, opset imports (the empty domain
 * is written {@code ai.onnx}), metadata_props, the graph's name, its real inputs (initializers that
 * older exporters also list as inputs are left out) and outputs.
 *
 * <p>ONNX files cannot exceed 2 GiB (protobuf's limit); larger models keep their weights in external
 * data, which this reader takes.
 */
public final class OnnxReader implements SourceReader {
    /** Name of the stripped graph in {@link SourceModel#sideFiles()}. */
    public static final String GRAPH_FILE = "model.onnx";
    /** external_data location of every initializer in the stripped graph: supplied by the loader. */
    public static final String EXTERNAL_PLACEHOLDER = "daxload-initializers-supplied-at-load";

    private static final long MAX_PROTOBUF_BYTES = Integer.MAX_VALUE;

    @Override
    public String format() {
        return "onnx";
    }

    /** By name only: a protobuf message has no magic bytes to check. */
    @Override
    public boolean accepts(Path path) throws IOException {
        Path name = path.getFileName();
        return name != null && name.toString().toLowerCase(Locale.ROOT).endsWith(".onnx") && Files.isRegularFile(path);
    }

    @Override
    public SourceModel read(Path path) throws IOException {
        long size = Files.size(path);
        if (size == 0) {
            throw new SourceFormatException(path, 0, "file is empty; expected an ONNX ModelProto");
        }
        if (size > MAX_PROTOBUF_BYTES) {
            throw new SourceFormatException(path, -1, size + " bytes is more than a protobuf message can hold (2 GiB);"
                    + " ONNX models that large keep their weights in external data");
        }
        OnnxFileScanner.Scan scan;
        try (FileChannel file = FileChannel.open(path)) {
            scan = OnnxFileScanner.scan(path, file);
        }
        ModelProto model = scan.model();
        if (!model.hasGraph()) {
            throw new SourceFormatException(path, -1, "ModelProto has no graph (field 7)");
        }
        if (model.getOpsetImportCount() == 0) {
            throw new SourceFormatException(path, -1, "ModelProto has no opset_import (field 8), which ONNX requires"
                    + " (a file cut short after its graph?)");
        }
        GraphProto graph = model.getGraph();
        refuseNestedExternalData(path, graph, "graph", true);

        OnnxInitializerDecoder decoder = new OnnxInitializerDecoder(path);
        List<SourceTensor> tensors = new ArrayList<>(graph.getInitializerCount());
        Set<String> names = new HashSet<>();
        for (int i = 0; i < graph.getInitializerCount(); i++) {
            SourceTensor t = decoder.decode(graph.getInitializer(i), scan.rawData().get(i), i);
            if (!names.add(t.name())) {
                throw new SourceFormatException(path, -1, "initializer '" + t.name() + "' appears twice (#" + i + ")");
            }
            tensors.add(t);
        }

        List<Path> files = new ArrayList<>();
        files.add(path);
        files.addAll(decoder.externalFiles());
        byte[] stripped = strip(model, tensors).toByteArray();
        return new SourceModel(format(), files, metadata(model, names), tensors,
                Map.of(GRAPH_FILE, FileContent.of(stripped)));
    }

    /**
     * Tensors other than top-level initializers stay in the stripped graph; the data of those stored
     * externally would be left behind, so such models are refused by name.
     */
    private static void refuseNestedExternalData(Path path, GraphProto graph, String where, boolean topLevel)
            throws SourceFormatException {
        if (!topLevel) {
            for (TensorProto t : graph.getInitializerList()) {
                refuseExternal(path, t, where + " initializer '" + t.getName() + "'");
            }
        }
        for (SparseTensorProto s : graph.getSparseInitializerList()) {
            refuseExternal(path, s, where + " sparse_initializer");
        }
        for (NodeProto node : graph.getNodeList()) {
            String nodeName = where + " node '" + (node.getName().isEmpty() ? node.getOpType() : node.getName()) + "'";
            for (AttributeProto a : node.getAttributeList()) {
                String at = nodeName + " attribute '" + a.getName() + "'";
                if (a.hasT()) {
                    refuseExternal(path, a.getT(), at);
                }
                for (TensorProto t : a.getTensorsList()) {
                    refuseExternal(path, t, at);
                }
                if (a.hasSparseTensor()) {
                    refuseExternal(path, a.getSparseTensor(), at);
                }
                for (SparseTensorProto s : a.getSparseTensorsList()) {
                    refuseExternal(path, s, at);
                }
                if (a.hasG()) {
                    refuseNestedExternalData(path, a.getG(), at + " subgraph", false);
                }
                for (GraphProto g : a.getGraphsList()) {
                    refuseNestedExternalData(path, g, at + " subgraph", false);
                }
            }
        }
    }

    private static void refuseExternal(Path path, SparseTensorProto s, String where) throws SourceFormatException {
        refuseExternal(path, s.getValues(), where + " values");
        refuseExternal(path, s.getIndices(), where + " indices");
    }

    private static void refuseExternal(Path path, TensorProto t, String where) throws SourceFormatException {
        if (t.getDataLocation() != OnnxInitializerDecoder.DATA_LOCATION_DEFAULT) {
            throw new SourceFormatException(path, -1, where + " keeps its data in external data; daxload takes"
                    + " external data only for initializers of the top-level graph");
        }
    }

    /** See the class comment: each initializer keeps name, type and dims, and points at a placeholder. */
    private static ModelProto strip(ModelProto model, List<SourceTensor> tensors) {
        ModelProto.Builder b = model.toBuilder();
        List<TensorProto.Builder> inits = b.getGraphBuilder().getInitializerBuilderList();
        for (int i = 0; i < inits.size(); i++) {
            inits.get(i)
                    .clearRawData()
                    .clearFloatData()
                    .clearInt32Data()
                    .clearInt64Data()
                    .clearDoubleData()
                    .clearUint64Data()
                    .clearStringData()
                    .clearExternalData()
                    .setDataLocation(OnnxInitializerDecoder.DATA_LOCATION_EXTERNAL)
                    .addExternalData(entry("location", EXTERNAL_PLACEHOLDER))
                    .addExternalData(entry("offset", "0"))
                    .addExternalData(entry("length", Long.toString(tensors.get(i).content().size())));
        }
        return b.build();
    }

    private static StringStringEntryProto entry(String key, String value) {
        return StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }

    private static JsonObject metadata(ModelProto m, Set<String> initializerNames) {
        JsonObject meta = new JsonObject();
        meta.addProperty("ir_version", m.getIrVersion());
        if (m.hasProducerName()) {
            meta.addProperty("producer_name", m.getProducerName());
        }
        if (m.hasProducerVersion()) {
            meta.addProperty("producer_version", m.getProducerVersion());
        }
        if (m.hasDomain()) {
            meta.addProperty("domain", m.getDomain());
        }
        if (m.hasModelVersion()) {
            meta.addProperty("model_version", m.getModelVersion());
        }
        JsonObject opsets = new JsonObject();
        for (OperatorSetIdProto o : m.getOpsetImportList()) {
            opsets.addProperty(o.getDomain().isEmpty() ? "ai.onnx" : o.getDomain(), o.getVersion());
        }
        meta.add("opset_import", opsets);
        JsonObject props = new JsonObject();
        for (StringStringEntryProto p : m.getMetadataPropsList()) {
            props.addProperty(p.getKey(), p.getValue());
        }
        meta.add("metadata_props", props);
        GraphProto g = m.getGraph();
        meta.addProperty("graph_name", g.getName());
        meta.addProperty("graph_file", GRAPH_FILE);
        JsonArray inputs = new JsonArray();
        for (ValueInfoProto v : g.getInputList()) {
            if (!initializerNames.contains(v.getName())) {
                inputs.add(v.getName());
            }
        }
        meta.add("inputs", inputs);
        JsonArray outputs = new JsonArray();
        for (ValueInfoProto v : g.getOutputList()) {
            outputs.add(v.getName());
        }
        meta.add("outputs", outputs);
        return meta;
    }
}
