package dev.daxload.packager.source;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Picks the reader for a path. Directories: one holding {@code model.safetensors.index.json} is a sharded
 * safetensors model, one holding {@code tensors.json} is a raw-tensor directory. Files: by extension
 * ({@code .safetensors}, {@code .gguf}, {@code .onnx}, {@code .npy}, {@code .npz}, {@code .pt}/{@code .pth}/{@code .bin} (PyTorch), {@code *.safetensors.index.json},
 * {@code tensors.json}), else by magic bytes (GGUF, {@code \x93NUMPY}, a plausible safetensors header).
 * Readers are asked in order; the first that accepts the path wins.
 */
public final class SourceReaders {
    private final List<SourceReader> readers;

    /** @param readers asked in this order */
    public SourceReaders(List<SourceReader> readers) {
        this.readers = List.copyOf(readers);
    }

    /** The readers of this package: sharded safetensors, raw, safetensors, GGUF, ONNX, npy, npz, PyTorch. */
    public static SourceReaders standard() {
        return new SourceReaders(List.of(new ShardedSafetensorsReader(), new RawTensorReader(), new SafetensorsReader(),
                new GgufReader(), new OnnxReader(), new NpyReader(), new NpzReader(), new TorchReader()));
    }

    /** A registry that asks {@code first} before these readers: how other formats (ONNX) join. */
    public SourceReaders with(SourceReader first) {
        List<SourceReader> all = new ArrayList<>();
        all.add(first);
        all.addAll(readers);
        return new SourceReaders(all);
    }

    /** The readers, in the order they are asked. */
    public List<SourceReader> readers() {
        return readers;
    }

    /** The first reader that accepts {@code path}. */
    public Optional<SourceReader> find(Path path) throws IOException {
        for (SourceReader r : readers) {
            if (r.accepts(path)) {
                return Optional.of(r);
            }
        }
        return Optional.empty();
    }

    /** Reads {@code path} with the reader that accepts it. */
    public SourceModel read(Path path) throws IOException {
        if (!Files.exists(path)) {
            throw new SourceFormatException(path, -1, "does not exist");
        }
        SourceReader r = find(path).orElseThrow(() -> new SourceFormatException(path, -1,
                "no reader recognises this " + (Files.isDirectory(path) ? "directory" : "file") + " (formats: "
                        + String.join(", ", readers.stream().map(SourceReader::format).distinct().toList()) + ")"));
        return r.read(path);
    }
}
