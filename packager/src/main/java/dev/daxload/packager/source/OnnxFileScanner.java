package dev.daxload.packager.source;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.WireFormat;
import dev.daxload.packager.source.onnxproto.GraphProto;
import dev.daxload.packager.source.onnxproto.ModelProto;
import dev.daxload.packager.source.onnxproto.TensorProto;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Parses an ONNX file without reading its weights: where a top-level initializer keeps its bytes in
 * {@code raw_data}, the scan records the field's place in the file and skips it.
 *
 * <p>Why not {@code ModelProto.parseFrom}: protobuf-java 4.x copies every {@code bytes} field it
 * parses from a file or a mapped buffer (it aliases only heap arrays), so a plain parse reads all the
 * weights into the heap, and locating them again in the file costs another pass. Instead protobuf's own
 * {@link CodedInputStream} walks the three levels that lead to the weights, {@code ModelProto.graph}
 * (field 7), {@code GraphProto.initializer} (5) and {@code TensorProto.raw_data} (9), reading the file
 * through a channel whose {@code skip} seeks. Every other field is copied verbatim, tag and all, into
 * the bytes of its message, and each message is then parsed by the protoc-generated classes, so the
 * result is the model protobuf would have parsed, minus those raw_data fields. The file is mapped and
 * only the pages holding metadata are touched: for bge-small-en-v1.5, a few hundred KiB of 133 MB.
 *
 * <p>A field that appears twice where ONNX expects it once (two graphs, two raw_data in one tensor)
 * is refused; protobuf would merge or keep the last, which no ONNX writer produces.
 */
final class OnnxFileScanner {
    private static final int GRAPH = lengthDelimited(ModelProto.GRAPH_FIELD_NUMBER);
    private static final int INITIALIZER = lengthDelimited(GraphProto.INITIALIZER_FIELD_NUMBER);
    private static final int RAW_DATA = lengthDelimited(TensorProto.RAW_DATA_FIELD_NUMBER);
    // Small: after each skipped raw_data the decoder refills this much, mostly from the next weights.
    private static final int READ_BUFFER = 4096;

    /** A field's tag as it appears on the wire ({@code WireFormat.makeTag} is not public). */
    private static int lengthDelimited(int field) {
        return field << 3 | WireFormat.WIRETYPE_LENGTH_DELIMITED;
    }

    /** Where an initializer's raw_data lies in the .onnx file. */
    record RawData(long offset, long length) {}

    /**
     * The model without the raw_data of its top-level initializers, and, for each initializer in
     * order, where its raw_data was ({@code null} for one that had none).
     */
    record Scan(ModelProto model, List<RawData> rawData) {}

    private final Path path;
    private final ByteBuffer file;
    private final CodedInputStream in;
    private final List<RawData> rawData = new ArrayList<>();

    private OnnxFileScanner(Path path, ByteBuffer file) {
        this.path = path;
        this.file = file;
        this.in = CodedInputStream.newInstance(new SkippingStream(file.duplicate()), READ_BUFFER);
        // The default limit is 2 GiB, what a protobuf message may hold; ONNX files are no larger.
        this.in.setSizeLimit(Integer.MAX_VALUE);
    }

    /** Scans {@code file} (at most 2 GiB). */
    static Scan scan(Path path, FileChannel file) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            OnnxFileScanner s = new OnnxFileScanner(path, file.map(FileChannel.MapMode.READ_ONLY, 0, file.size(), arena).asByteBuffer());
            try {
                ModelProto model = s.model();
                return new Scan(model, Collections.unmodifiableList(s.rawData));
            } catch (InvalidProtocolBufferException e) {
                throw s.fail("ModelProto: not a valid ONNX protobuf: " + e.getMessage(), e);
            } catch (SourceFormatException e) {
                throw e;
            } catch (IOException | RuntimeException e) {
                // protobuf documents only InvalidProtocolBufferException, but the input is untrusted.
                throw s.fail("ModelProto: protobuf failed on the input: " + e, e);
            } catch (InternalError e) {
                // what a read of a mapped page past a file's new end turns into
                throw new SourceFormatException(path, s.in.getTotalBytesRead(),
                        "ModelProto: the file could not be read (shortened while read?): " + e.getMessage(), e);
            }
        }
    }

    /** The mapped file as a stream whose {@code skip} moves without reading. */
    private static final class SkippingStream extends InputStream {
        private final ByteBuffer buf;

        SkippingStream(ByteBuffer buf) {
            this.buf = buf;
        }

        @Override
        public int read() {
            return buf.hasRemaining() ? buf.get() & 0xFF : -1;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (len == 0) {
                return 0;
            }
            if (!buf.hasRemaining()) {
                return -1;
            }
            int n = Math.min(len, buf.remaining());
            buf.get(b, off, n);
            return n;
        }

        @Override
        public long skip(long n) {
            int k = (int) Math.max(0, Math.min(n, buf.remaining()));
            buf.position(buf.position() + k);
            return k;
        }

        @Override
        public int available() {
            return buf.remaining();
        }
    }

    private ModelProto model() throws IOException {
        List<GraphProto> graphs = new ArrayList<>(1);
        ByteString rest = walk(GRAPH, () -> {
            if (!graphs.isEmpty()) {
                throw fail("ModelProto has graph (field 7) twice; expected one graph");
            }
            int limit = in.pushLimit(length("graph"));
            graphs.add(graph());
            in.popLimit(limit);
        });
        ModelProto.Builder model = ModelProto.parseFrom(rest).toBuilder();
        if (!graphs.isEmpty()) {
            model.setGraph(graphs.getFirst());
        }
        return model.build();
    }

    private GraphProto graph() throws IOException {
        List<TensorProto> initializers = new ArrayList<>();
        ByteString rest = walk(INITIALIZER, () -> {
            int limit = in.pushLimit(length("graph.initializer"));
            initializers.add(initializer(initializers.size()));
            in.popLimit(limit);
        });
        return GraphProto.parseFrom(rest).toBuilder().addAllInitializer(initializers).build();
    }

    private TensorProto initializer(int index) throws IOException {
        MemoryBudget.requireCount(path, in.getTotalBytesRead(), "graph.initializer count", index + 1L, MemoryBudget.HEAP_PER_TENSOR);
        List<RawData> raw = new ArrayList<>(1);
        ByteString rest = walk(RAW_DATA, () -> {
            if (!raw.isEmpty()) {
                throw fail("initializer #" + index + " has raw_data (field 9) twice; expected it once");
            }
            int length = length("initializer #" + index + " raw_data");
            int start = in.getTotalBytesRead();
            // Checked here, so the error names where the weights start, not where the input ran out.
            long inFile = file.limit() - (long) start;
            long inMessage = in.getBytesUntilLimit() >= 0 ? in.getBytesUntilLimit() : Long.MAX_VALUE;
            if (length > Math.min(inFile, inMessage)) {
                throw new SourceFormatException(path, start, "initializer #" + index + " raw_data: " + length
                        + " bytes run past the end of " + (inFile <= inMessage ? "the file" : "their initializer")
                        + " (" + Math.min(inFile, inMessage) + " bytes left); the file is truncated or a length is wrong");
            }
            raw.add(new RawData(start, length));
            in.skipRawBytes(length);
        });
        rawData.add(raw.isEmpty() ? null : raw.getFirst());
        return TensorProto.parseFrom(rest);
    }

    /** Reads the field that follows its tag; the tag has been read. */
    @FunctionalInterface
    private interface FieldReader {
        void read() throws IOException;
    }

    /**
     * Reads the fields of the current message up to its end (the limit pushed for it, or the end of
     * the file): the field tagged {@code wanted} goes to {@code reader}, every other one is copied,
     * tag and all, into the bytes returned.
     */
    private ByteString walk(int wanted, FieldReader reader) throws IOException {
        ByteString.Output rest = ByteString.newOutput();
        while (true) {
            int start = in.getTotalBytesRead();
            int tag = in.readTag();
            if (tag == 0) {
                return rest.toByteString();
            }
            if (tag == wanted) {
                reader.read();
            } else {
                skipAndCopy(tag, start, rest);
                // Everything but the weights is parsed into objects (nodes, attributes): bound it.
                MemoryBudget.require(path, start, "graph fields other than weights", rest.size(), 8);
            }
        }
    }

    private int length(String field) throws IOException {
        int n = in.readRawVarint32();
        if (n < 0) {
            throw fail(field + ": length " + Integer.toUnsignedLong(n) + " is negative as a protobuf length");
        }
        return n;
    }

    /** Skips one field and appends its bytes, from its tag to its end, to {@code out}. */
    private void skipAndCopy(int tag, int start, ByteString.Output out) throws IOException {
        if (!in.skipField(tag)) {
            throw fail("end-group tag " + tag + " without a start group");
        }
        int end = in.getTotalBytesRead();
        byte[] bytes = new byte[end - start];
        file.get(start, bytes);
        out.write(bytes);
    }

    private SourceFormatException fail(String message) {
        return new SourceFormatException(path, in.getTotalBytesRead(), message);
    }

    private SourceFormatException fail(String message, Exception cause) {
        return new SourceFormatException(path, in.getTotalBytesRead(), message, cause);
    }
}
