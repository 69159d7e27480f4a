package dev.daxload.packager.source;

import com.google.gson.JsonObject;
import dev.daxload.packager.image.FileContent;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What a source reader found in a model's files: tensors, metadata and side files.
 *
 * @param format the source format: {@code safetensors}, {@code gguf}, {@code onnx}, {@code npy},
 *     {@code npz}, {@code raw}
 * @param files the files read, for the manifest's provenance (the packager hashes them)
 * @param metadata source metadata as JSON: GGUF key/values, the safetensors {@code __metadata__}, ONNX
 *     producer and opset; an empty object when there is none
 * @param tensors tensors in source order; names are unique
 * @param sideFiles files to copy verbatim under {@code files/}, by relative path: the ONNX graph
 *     without its weights, a tokenizer, a config
 */
public record SourceModel(String format, List<Path> files, JsonObject metadata, List<SourceTensor> tensors,
                          Map<String, FileContent> sideFiles) {
    public SourceModel {
        files = List.copyOf(files);
        tensors = List.copyOf(tensors);
        sideFiles = Map.copyOf(sideFiles);
    }
}
