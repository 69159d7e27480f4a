package dev.daxload.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.cli.DaxloadCliTest.Run;
import dev.daxload.image.DaxImage;
import dev.daxload.manifest.ModelCatalog;
import dev.daxload.manifest.ModelManifest;
import dev.daxload.packager.source.Fixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * pack-model on what users point it at: HuggingFace model directories (safetensors single and sharded,
 * ONNX, PyTorch pytorch_model.bin, a cache snapshot of symlinks) pack as one model with every side
 * file; a file daxload cannot read is an error naming it unless --file names it; '-' is refused.
 */
class ModelDirectoryCliTest {
    static final Path TESTDATA = PackModelCliTest.TESTDATA;
    static final Path TORCH = Fixtures.OWN.resolve("torch");
    @TempDir Path tmp;

    static ModelManifest manifest(Path image) throws Exception {
        try (DaxImage img = DaxImage.open(image)) {
            return ModelCatalog.load(img, "m");
        }
    }

    Run pack(String... sources) {
        Path image = tmp.resolve("out.daxfs");
        String[] args = new String[sources.length + 5];
        args[0] = "pack-model";
        args[1] = "--name";
        args[2] = "m";
        System.arraycopy(sources, 0, args, 3, sources.length);
        args[args.length - 2] = "-o";
        args[args.length - 1] = image.toString();
        return DaxloadCliTest.run(args);
    }

    Path hfSideFiles(Path dir) throws Exception {
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"bert\"}");
        Files.writeString(dir.resolve("tokenizer.json"), "{\"version\": \"1.0\"}");
        Files.writeString(dir.resolve("vocab.txt"), "[PAD]\n[UNK]\n");
        Files.createDirectories(dir.resolve("1_Pooling"));
        Files.writeString(dir.resolve("1_Pooling/config.json"), "{\"pooling_mode_mean_tokens\": true}");
        Files.writeString(dir.resolve(".gitattributes"), "*.safetensors filter=lfs\n");
        Files.createDirectories(dir.resolve(".git"));
        Files.writeString(dir.resolve(".git/HEAD"), "ref: refs/heads/main\n");
        return dir;
    }

    static final List<String> SIDE = List.of("files/1_Pooling/config.json", "files/config.json", "files/tokenizer.json", "files/vocab.txt");

    @Test
    void aSafetensorsDirectoryPacksWithEverySideFileAndLeavesOtherFormatsOut() throws Exception {
        Path dir = hfSideFiles(Files.createDirectories(tmp.resolve("hf")));
        Files.copy(TESTDATA.resolve("silero-vad.safetensors"), dir.resolve("model.safetensors"));
        Files.write(dir.resolve("tf_model.h5"), new byte[] {(byte) 0x89, 'H', 'D', 'F'});
        Files.createDirectories(dir.resolve("onnx"));
        Files.copy(TESTDATA.resolve("silero_vad_op18_ifless.onnx"), dir.resolve("onnx/model.onnx"));
        Run r = pack(dir.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("left out") && r.err().contains("tf_model.h5") && r.err().contains("onnx/model.onnx"), r.err());
        ModelManifest m = manifest(tmp.resolve("out.daxfs"));
        assertEquals(45, m.tensors().size());
        assertEquals(SIDE, m.files().stream().sorted().toList(), "every side file, none of the hidden ones");
    }

    @Test
    void aShardedSafetensorsDirectoryKeepsItsConfigAndTokenizer() throws Exception {
        Path dir = hfSideFiles(Files.createDirectories(tmp.resolve("sharded")));
        try (var s = Files.list(TESTDATA.resolve("sharded"))) {
            for (Path p : s.toList()) {
                Files.copy(p, dir.resolve(p.getFileName()));
            }
        }
        Run r = pack(dir.toString());
        assertEquals(0, r.code(), r.err());
        ModelManifest m = manifest(tmp.resolve("out.daxfs"));
        assertFalse(m.tensors().isEmpty());
        assertEquals(SIDE, m.files().stream().sorted().toList());
    }

    @Test
    void anOnnxDirectoryKeepsTheGraphAndTheTokenizer() throws Exception {
        Path dir = hfSideFiles(Files.createDirectories(tmp.resolve("onnx-model")));
        Files.copy(TESTDATA.resolve("silero_vad_op18_ifless.onnx"), dir.resolve("model.onnx"));
        Run r = pack(dir.toString());
        assertEquals(0, r.code(), r.err());
        ModelManifest m = manifest(tmp.resolve("out.daxfs"));
        assertFalse(m.tensors().isEmpty());
        assertTrue(m.files().containsAll(SIDE) && m.files().stream().anyMatch(f -> f.endsWith(".onnx")), m.files().toString());
    }

    @Test
    void aPytorchModelBinDirectoryWrittenByTorchPacksByteIdentical() throws Exception {
        // hf-bin: pytorch_model.bin and config.json, both written by make_torch_fixtures.py with torch itself
        Run r = pack(TORCH.resolve("hf-bin").toString());
        assertEquals(0, r.code(), r.err());
        ModelManifest m = manifest(tmp.resolve("out.daxfs"));
        assertEquals(List.of("bias", "weight"), m.tensors().stream().map(t -> t.name()).sorted().toList());
        assertEquals(List.of("files/config.json"), m.files());
        assertEquals("pytorch", m.source().get("format").getAsString());
    }

    @Test
    void shardedPytorchBinsAgreeWithTheirIndex() throws Exception {
        Run r = pack(TORCH.resolve("hf-bin-sharded").toString());
        assertEquals(0, r.code(), r.err());
        ModelManifest m = manifest(tmp.resolve("out.daxfs"));
        assertEquals(List.of("0.bias", "0.weight", "1.bias", "1.weight"), m.tensors().stream().map(t -> t.name()).sorted().toList());
        assertEquals(List.of("files/config.json"), m.files(), "the index is read, not copied");
        assertFalse(r.err().contains("left out"), r.err());

        Path partial = Files.createDirectories(tmp.resolve("partial"));
        for (String f : List.of("pytorch_model-00001-of-00002.bin", "pytorch_model.bin.index.json", "config.json")) {
            Files.copy(TORCH.resolve("hf-bin-sharded").resolve(f), partial.resolve(f));
        }
        r = pack(partial.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("pytorch_model.bin.index.json") && r.err().contains("not among the shards read"), r.err());
    }

    @Test
    void aCacheSnapshotOfSymlinksIsFollowed() throws Exception {
        Path blobs = Files.createDirectories(tmp.resolve("models--x/blobs"));
        Path snap = Files.createDirectories(tmp.resolve("models--x/snapshots/abc"));
        Files.copy(TORCH.resolve("hf-bin/pytorch_model.bin"), blobs.resolve("1111"));
        Files.writeString(blobs.resolve("2222"), "{}");
        Files.createSymbolicLink(snap.resolve("pytorch_model.bin"), Path.of("../../blobs/1111"));
        Files.createSymbolicLink(snap.resolve("config.json"), Path.of("../../blobs/2222"));
        Run r = pack(snap.toString());
        assertEquals(0, r.code(), r.err());
        ModelManifest m = manifest(tmp.resolve("out.daxfs"));
        assertEquals(2, m.tensors().size());
        assertEquals(List.of("files/config.json"), m.files());
    }

    @Test
    void aStateDictNamedAsASourceIsReadNotCopied() throws Exception {
        Run r = pack(TORCH.resolve("state-dict.pt").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(manifest(tmp.resolve("out.daxfs")).tensors().size() > 20);
    }

    @Test
    void aFileDaxloadCannotReadIsAnErrorUnlessFileNamesIt() throws Exception {
        Path h5 = Files.write(tmp.resolve("tf_model.h5"), new byte[] {(byte) 0x89, 'H', 'D', 'F'});
        Path st = OutputPathCliTest.safetensors(tmp.resolve("w.safetensors"));
        Run r = pack(st.toString(), h5.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains(h5.toString()) && r.err().contains("not weights daxload reads") && r.err().contains("--file"), r.err());
        assertFalse(Files.exists(tmp.resolve("out.daxfs")));

        Path tok = Files.writeString(tmp.resolve("all-minilm-l6-v2-tokenizer.json"), "{\"version\": \"1.0\"}");
        r = pack(st.toString(), "--file", "tokenizer.json=" + tok, "--file", "tf/" + h5.getFileName() + "=" + h5, "--file", h5.toString());
        assertEquals(0, r.code(), r.err());
        ModelManifest m = manifest(tmp.resolve("out.daxfs"));
        assertEquals(List.of("files/tf/tf_model.h5", "files/tf_model.h5", "files/tokenizer.json"), m.files().stream().sorted().toList());
        try (DaxImage img = DaxImage.open(tmp.resolve("out.daxfs"))) {
            assertEquals("{\"version\": \"1.0\"}", new String(img.content("m/files/tokenizer.json").toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)));
        }
        assertEquals(2, pack(st.toString(), "--file", "../escape=" + tok).code());
    }

    @Test
    void standardInputAsASourceIsRefused() {
        Run r = pack("-");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("'-'") && r.err().contains("standard input"), r.err());
        assertFalse(Files.exists(Path.of("-")));
    }

    @Test
    void aDirectoryWithNoWeightsIsNamed() throws Exception {
        Path dir = hfSideFiles(Files.createDirectories(tmp.resolve("empty-model")));
        Run r = pack(dir.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains(dir.toString()) && r.err().contains("no weights daxload reads"), r.err());
    }
}
