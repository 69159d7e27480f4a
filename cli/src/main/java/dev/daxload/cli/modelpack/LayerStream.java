package dev.daxload.cli.modelpack;

import dev.daxload.registry.Digests;
import dev.daxload.registry.RegistryClient;
import dev.daxload.registry.RegistryException;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.security.MessageDigest;

/**
 * One weight layer read once, in order, by one GET: the bytes between tensors (headers, padding, the tar's end)
 * are hashed and dropped, a tensor's bytes are hashed and written straight into the image. {@link #finish} reads
 * what is left and checks the layer's size and sha256, so an image built from a corrupt layer is never published.
 */
final class LayerStream implements AutoCloseable {
    private static final int BUFFER = 1 << 20;

    private final RegistryClient client;
    private final String repository;
    private final ArtifactLayers.Layer layer;
    private final String where;
    private final MessageDigest sha256;
    private final byte[] buffer = new byte[BUFFER];
    private InputStream in;
    private long position;

    LayerStream(RegistryClient client, String repository, ArtifactLayers.Layer layer, String where) {
        this.client = client;
        this.repository = repository;
        this.layer = layer;
        this.where = where;
        this.sha256 = Digests.sha256();
    }

    private InputStream in() throws IOException {
        if (in == null) {
            HttpResponse<InputStream> r = client.openBlob(repository, layer.digest(), 0);
            if (r.statusCode() != 200) {
                r.body().close();
                throw new RegistryException(where + ": GET of layer " + layer.digest() + " answered " + r.statusCode() + " (expected 200)");
            }
            in = r.body();
        }
        return in;
    }

    /** Reads, hashes and drops the bytes up to {@code offset} of the layer. */
    void skipTo(long offset) throws IOException {
        if (offset < position) {
            throw new IOException(where + ": layer " + layer.digest() + " asked for byte " + offset + " after byte " + position
                    + " had passed (tensors that overlap?)");
        }
        while (position < offset) {
            int n = read((int) Math.min(buffer.length, offset - position));
            sha256.update(buffer, 0, n);
            position += n;
        }
    }

    /** Writes the layer's bytes {@code [offset, offset + length)} to {@code image} at {@code at}, hashing them. */
    void copyTo(long offset, long length, FileChannel image, long at) throws IOException {
        skipTo(offset);
        long done = 0;
        while (done < length) {
            int n = read((int) Math.min(buffer.length, length - done));
            sha256.update(buffer, 0, n);
            ByteBuffer b = ByteBuffer.wrap(buffer, 0, n);
            while (b.hasRemaining()) {
                at += image.write(b, at);
            }
            done += n;
            position += n;
        }
    }

    /** Reads the rest of the layer and checks its size and digest. */
    void finish() throws IOException {
        skipTo(layer.size());
        if (in().read() >= 0) {
            throw new RegistryException(where + ": layer " + layer.digest() + " sent more than the " + layer.size()
                    + " bytes the manifest declares");
        }
        String got = Digests.of(sha256);
        if (!got.equals(layer.digest())) {
            throw new RegistryException(where + ": layer " + layer.digest() + " (" + layer.path() + "): the bytes received hash to "
                    + got + "; nothing written");
        }
    }

    private int read(int max) throws IOException {
        int n = in().read(buffer, 0, max);
        if (n < 0) {
            throw new RegistryException(where + ": layer " + layer.digest() + " ended at byte " + position + " of the "
                    + layer.size() + " the manifest declares");
        }
        return n;
    }

    @Override
    public void close() throws IOException {
        if (in != null) {
            in.close();
        }
    }
}
