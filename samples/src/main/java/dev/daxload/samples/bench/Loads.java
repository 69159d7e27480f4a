package dev.daxload.samples.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.daxload.djl.PtTensorViews;
import dev.daxload.model.ModelWeights;
import dev.daxload.tensor.TensorView;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * The ways of getting every weight of a model as a PyTorch NDArray that the benchmarks compare, shared
 * by the JMH benchmark, the start-up probe and the memory holder so that all three time the same code.
 */
public final class Loads {
    private Loads() {}

    /** daxload: map the image, view every tensor in place. The caller closes the manager, then the weights. */
    public static NDList views(NDManager manager, ModelWeights weights) {
        return PtTensorViews.viewAll(manager, weights);
    }

    /**
     * DJL's own safetensors loading: {@code NDList.decode} reads the whole data section into a
     * {@code byte[]}, then {@code manager.create} copies each tensor into a direct buffer that libtorch
     * wraps: two copies, and files under 2 GiB only.
     */
    public static NDList djlDecode(NDManager manager, Path safetensors) throws IOException {
        try (InputStream in = new BufferedInputStream(Files.newInputStream(safetensors), 1 << 16)) {
            return NDList.decode(manager, in);
        }
    }

    /**
     * The careful copy: each tensor read from the file straight into a direct buffer of its own
     * ({@code FileChannel.read}), handed to {@code manager.create}, which wraps a direct buffer without
     * copying again: one copy, what a loader without mapping can do at best.
     */
    public static NDList directCopy(NDManager manager, Path safetensors) throws IOException {
        try (FileChannel ch = FileChannel.open(safetensors, StandardOpenOption.READ)) {
            ByteBuffer lb = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lb, 0);
            int headerLength = Math.toIntExact(lb.getLong(0));
            ByteBuffer hb = ByteBuffer.allocate(headerLength);
            readFully(ch, hb, 8);
            JsonObject header = JsonParser.parseString(new String(hb.array(), StandardCharsets.UTF_8)).getAsJsonObject();
            long base = 8L + headerLength;
            NDList out = new NDList(header.size());
            for (Map.Entry<String, JsonElement> e : header.entrySet()) {
                if (e.getKey().equals("__metadata__")) {
                    continue;
                }
                JsonObject t = e.getValue().getAsJsonObject();
                long begin = t.getAsJsonArray("data_offsets").get(0).getAsLong();
                long end = t.getAsJsonArray("data_offsets").get(1).getAsLong();
                long[] shape = new long[t.getAsJsonArray("shape").size()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = t.getAsJsonArray("shape").get(i).getAsLong();
                }
                ByteBuffer data = ByteBuffer.allocateDirect(Math.toIntExact(end - begin)).order(ByteOrder.LITTLE_ENDIAN);
                readFully(ch, data, base + begin);
                data.flip();
                NDArray a = manager.create(data, new Shape(shape), DataType.fromSafetensors(t.get("dtype").getAsString()));
                a.setName(e.getKey());
                out.add(a);
            }
            return out;
        }
    }

    /**
     * Reads one byte of every 4 KiB page of every tensor, as a first inference would, so that a view's
     * pages are resident (copies are resident already). Returns a sum so the reads are not optimized away.
     */
    public static long touch(ModelWeights weights) {
        long sum = 0;
        for (TensorView t : weights.tensors().values()) {
            MemorySegment s = t.segment();
            for (long off = 0; off < s.byteSize(); off += 4096) {
                sum += s.get(ValueLayout.JAVA_BYTE, off);
            }
        }
        return sum;
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long at) throws IOException {
        while (b.hasRemaining()) {
            int n = ch.read(b, at);
            if (n < 0) {
                throw new IOException("unexpected end of file at " + at);
            }
            at += n;
        }
    }
}
