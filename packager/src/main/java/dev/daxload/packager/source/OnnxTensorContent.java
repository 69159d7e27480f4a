package dev.daxload.packager.source;

import com.google.protobuf.ByteString;
import dev.daxload.packager.image.FileContent;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * Tensor bytes held by a protobuf {@link ByteString}: values converted from ONNX's typed fields, or
 * raw_data that could not be located in the model file. Written from the ByteString's own buffers,
 * so the bytes are not copied a second time on the heap ({@link ByteString#toByteArray()} would).
 *
 * @param bytes the tensor's little-endian bytes
 * @param description what the bytes are, for messages
 */
public record OnnxTensorContent(ByteString bytes, String description) implements FileContent {

    @Override
    public long size() {
        return bytes.size();
    }

    @Override
    public void writeTo(FileChannel image, long position) throws IOException {
        long at = position;
        for (ByteBuffer buf : bytes.asReadOnlyByteBufferList()) {
            while (buf.hasRemaining()) {
                at += image.write(buf, at);
            }
        }
    }

    @Override
    public String describe() {
        return description;
    }
}
