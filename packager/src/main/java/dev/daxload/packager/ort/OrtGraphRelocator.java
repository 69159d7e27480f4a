package dev.daxload.packager.ort;

import dev.daxload.djl.onnx.internal.OrtImageForm;
import dev.daxload.packager.source.onnxproto.AttributeProto;
import dev.daxload.packager.source.onnxproto.GraphProto;
import dev.daxload.packager.source.onnxproto.ModelProto;
import dev.daxload.packager.source.onnxproto.NodeProto;
import dev.daxload.packager.source.onnxproto.SparseTensorProto;
import dev.daxload.packager.source.onnxproto.StringStringEntryProto;
import dev.daxload.packager.source.onnxproto.TensorProto;
import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;

/**
 * Points an ONNX Runtime optimized graph's external data at the image: every external tensor's
 * {@code location} becomes {@link OrtImageForm#IMAGE_LINK} and its {@code offset}, and the offsets of its
 * prepacked blobs ({@code prepacked_N} entries, {@code key|offset;length;checksum|...}), become where
 * those bytes lie in the image ({@link Placement}: the data file moved as a whole, or the model's own
 * tensor files for initializers ORT left unchanged). Each range is checked to lie inside ORT's data file
 * first, so a graph that referred to anything else is refused rather than pointed at unrelated bytes.
 */
final class OrtGraphRelocator {
    private final String dataName;
    private final long dataSize;
    private final Placement placement;
    private final String where;
    private int tensors;
    private int blobs;

    /** Where bytes that ORT wrote into its data file lie in the image (absolute offsets). */
    interface Placement {
        /** Initializer {@code name}, which ORT wrote at [offset, +length) of its data file. */
        long tensor(String name, long offset, long length) throws IOException;

        /** A prepacked blob that ORT wrote at [offset, +length) of its data file. */
        long blob(long offset, long length) throws IOException;

        /** The whole data file at {@code base}. */
        static Placement shifted(long base) {
            return new Placement() {
                @Override
                public long tensor(String name, long offset, long length) {
                    return base + offset;
                }

                @Override
                public long blob(long offset, long length) {
                    return base + offset;
                }
            };
        }
    }

    private OrtGraphRelocator(String dataName, long dataSize, Placement placement, String where) {
        this.dataName = dataName;
        this.dataSize = dataSize;
        this.placement = placement;
        this.where = where;
    }

    /** What one relocation changed, for messages and tests. */
    record Result(byte[] graph, int tensors, int blobs) {}

    /**
     * @param graph the optimized graph as ORT wrote it
     * @param dataName the data file name ORT's entries give as location
     * @param dataSize the data file's size
     * @param base the data file's absolute offset in the image
     * @param where names the graph in errors
     */
    static Result relocate(byte[] graph, String dataName, long dataSize, long base, String where) throws IOException {
        return relocate(graph, dataName, dataSize, Placement.shifted(base), where);
    }

    /**
     * @param graph the optimized graph as ORT wrote it
     * @param dataName the data file name ORT's entries give as location
     * @param dataSize the size of ORT's data file (the ranges the graph names are checked against it)
     * @param placement where each range lies in the image
     * @param where names the graph in errors
     */
    static Result relocate(byte[] graph, String dataName, long dataSize, Placement placement, String where) throws IOException {
        ModelProto model;
        try {
            model = ModelProto.parseFrom(graph);
        } catch (InvalidProtocolBufferException e) {
            throw new IOException(where + ": not an ONNX model: " + e.getMessage(), e);
        }
        OrtGraphRelocator r = new OrtGraphRelocator(dataName, dataSize, placement, where);
        ModelProto.Builder b = model.toBuilder();
        if (model.hasGraph()) {
            b.setGraph(r.graph(model.getGraph()));
        }
        return new Result(b.build().toByteArray(), r.tensors, r.blobs);
    }

    private GraphProto graph(GraphProto g) throws IOException {
        GraphProto.Builder b = g.toBuilder();
        for (int i = 0; i < b.getInitializerCount(); i++) {
            b.setInitializer(i, tensor(b.getInitializer(i)));
        }
        for (int i = 0; i < b.getSparseInitializerCount(); i++) {
            b.setSparseInitializer(i, sparse(b.getSparseInitializer(i)));
        }
        for (int i = 0; i < b.getNodeCount(); i++) {
            NodeProto.Builder n = b.getNode(i).toBuilder();
            for (int j = 0; j < n.getAttributeCount(); j++) {
                n.setAttribute(j, attribute(n.getAttribute(j)));
            }
            b.setNode(i, n);
        }
        return b.build();
    }

    private AttributeProto attribute(AttributeProto a) throws IOException {
        AttributeProto.Builder b = a.toBuilder();
        if (b.hasT()) {
            b.setT(tensor(b.getT()));
        }
        if (b.hasG()) {
            b.setG(graph(b.getG()));
        }
        for (int i = 0; i < b.getTensorsCount(); i++) {
            b.setTensors(i, tensor(b.getTensors(i)));
        }
        for (int i = 0; i < b.getGraphsCount(); i++) {
            b.setGraphs(i, graph(b.getGraphs(i)));
        }
        if (b.hasSparseTensor()) {
            b.setSparseTensor(sparse(b.getSparseTensor()));
        }
        for (int i = 0; i < b.getSparseTensorsCount(); i++) {
            b.setSparseTensors(i, sparse(b.getSparseTensors(i)));
        }
        return b.build();
    }

    private SparseTensorProto sparse(SparseTensorProto s) throws IOException {
        SparseTensorProto.Builder b = s.toBuilder();
        if (b.hasValues()) {
            b.setValues(tensor(b.getValues()));
        }
        if (b.hasIndices()) {
            b.setIndices(tensor(b.getIndices()));
        }
        return b.build();
    }

    private TensorProto tensor(TensorProto t) throws IOException {
        if (t.getDataLocation() != 1) {
            return t;
        }
        String name = where + ": tensor '" + t.getName() + "'";
        long length = -1;
        long offset = 0;
        for (StringStringEntryProto e : t.getExternalDataList()) {
            switch (e.getKey()) {
                case "location" -> {
                    if (!e.getValue().equals(dataName)) {
                        throw new IOException(name + ": external data location '" + e.getValue() + "', expected '" + dataName + "'");
                    }
                }
                case "offset" -> offset = number(e.getValue(), name + ", field 'offset'");
                case "length" -> length = number(e.getValue(), name + ", field 'length'");
                default -> {}
            }
        }
        if (length < 0) {
            throw new IOException(name + ": external data without a 'length'");
        }
        check(offset, length, name);
        long at = placement.tensor(t.getName(), offset, length);
        TensorProto.Builder b = t.toBuilder().clearExternalData();
        for (StringStringEntryProto e : t.getExternalDataList()) {
            String value = switch (e.getKey()) {
                case "location" -> OrtImageForm.IMAGE_LINK;
                case "offset" -> Long.toString(at);
                default -> e.getKey().startsWith("prepacked") ? prepacked(e.getValue(), name + ", field '" + e.getKey() + "'") : e.getValue();
            };
            b.addExternalData(StringStringEntryProto.newBuilder().setKey(e.getKey()).setValue(value));
        }
        if (t.getExternalDataList().stream().noneMatch(e -> e.getKey().equals("offset"))) {
            b.addExternalData(StringStringEntryProto.newBuilder().setKey("offset").setValue(Long.toString(at)));
        }
        tensors++;
        return b.build();
    }

    /** {@code key|offset;length;checksum[|offset;length;checksum]...} with each offset placed in the image. */
    private String prepacked(String value, String name) throws IOException {
        String[] parts = value.split("\\|", -1);
        if (parts.length < 2) {
            throw new IOException(name + ": '" + value + "' is not key|offset;length;checksum");
        }
        StringBuilder out = new StringBuilder(parts[0]);
        for (int i = 1; i < parts.length; i++) {
            String[] f = parts[i].split(";", -1);
            if (f.length != 3) {
                throw new IOException(name + ": blob " + i + " '" + parts[i] + "' is not offset;length;checksum");
            }
            long offset = number(f[0], name + ", blob " + i + " offset");
            long length = number(f[1], name + ", blob " + i + " length");
            check(offset, length, name + ", blob " + i);
            out.append('|').append(placement.blob(offset, length)).append(';').append(length).append(';').append(f[2]);
            blobs++;
        }
        return out.toString();
    }

    private void check(long offset, long length, String name) throws IOException {
        if (offset < 0 || length < 0 || offset > dataSize - length) {
            throw new IOException(name + ": range [" + offset + ", +" + length + ") lies outside " + dataName + " (" + dataSize + " bytes)");
        }
    }

    private static long number(String s, String name) throws IOException {
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new IOException(name + ": '" + s + "' is not a number");
        }
    }
}
