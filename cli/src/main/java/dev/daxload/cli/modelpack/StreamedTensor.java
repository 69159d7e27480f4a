package dev.daxload.cli.modelpack;

import dev.daxload.packager.image.FileContent;
import java.io.IOException;
import java.nio.channels.FileChannel;

/**
 * A tensor whose bytes come from a registry layer as it streams: written from the socket into its place in the
 * image, in the layer's order ({@link #writeOrder}).
 *
 * @param stream the layer
 * @param layerIndex the layer's place among the artifact's weight layers (the image writer takes layers in turn)
 * @param offset where the tensor's bytes start in the layer
 * @param length their count
 */
record StreamedTensor(LayerStream stream, int layerIndex, long offset, long length, String name) implements FileContent {
    @Override
    public long size() {
        return length;
    }

    @Override
    public void writeTo(FileChannel image, long position) throws IOException {
        stream.copyTo(offset, length, image, position);
    }

    @Override
    public String describe() {
        return name;
    }

    @Override
    public long writeOrder() {
        return ((layerIndex + 1L) << 44) + offset;
    }
}
