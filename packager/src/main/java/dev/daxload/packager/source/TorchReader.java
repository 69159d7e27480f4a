package dev.daxload.packager.source;

import com.google.gson.JsonObject;
import dev.daxload.packager.image.FileContent;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.commons.compress.archivers.zip.ZipArchiveEntry;
import org.apache.commons.compress.archivers.zip.ZipFile;

/**
 * PyTorch state dicts as {@code torch.save} writes them since 1.6 ({@code model.pt}, {@code .pth},
 * HuggingFace's {@code pytorch_model.bin}): a zip archive holding {@code <root>/data.pkl} (the dict,
 * read by the strict {@link TorchPickle}) and one stored member per storage, {@code <root>/data/<key>}.
 * A tensor is a range of its storage's member, copied as it lies: its storage offset is honoured, a
 * transposed (Fortran-order) view is gathered into C order, other strides (a strided slice, a partial
 * permute) are refused by name, as are the legacy pre-1.6 format, TorchScript archives, big-endian storages and checkpoints that are not a flat dict of
 * tensors. No Python, no code in the file is run.
 */
public final class TorchReader implements SourceReader {
    private static final int STORED = 0;
    private static final int DEFLATED = 8;
    private static final int ZIP_MAGIC = 0x04034b50;

    @Override
    public String format() {
        return "pytorch";
    }

    @Override
    public boolean accepts(Path path) throws IOException {
        if (!Files.isRegularFile(path)) {
            return false;
        }
        String name = path.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".pt") || name.endsWith(".pth")) {
            return true;
        }
        // .bin is anyone's extension: a zip (torch.save) or a pickle (the legacy format) only.
        if (name.endsWith(".bin")) {
            byte[] head = new byte[4];
            try (InputStream in = Files.newInputStream(path)) {
                int n = in.readNBytes(head, 0, 4);
                return n == 4 && (ByteBuffer.wrap(head).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt() == ZIP_MAGIC
                        || (head[0] & 0xFF) == 0x80);
            }
        }
        return false;
    }

    @Override
    public SourceModel read(Path path) throws IOException {
        long fileSize = Files.size(path);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer head = ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            ch.read(head, 0);
            if (head.position() < 4 || head.getInt(0) != ZIP_MAGIC) {
                if (head.position() > 0 && (head.get(0) & 0xFF) == 0x80) {
                    throw new SourceFormatException(path, 0, "a torch.save file in the legacy format of torch < 1.6 (a bare"
                            + " pickle, not a zip archive); load it and save it again with a newer torch");
                }
                throw new SourceFormatException(path, 0, "not a torch.save archive: no zip header");
            }
        }
        ZipFile zip;
        try {
            zip = ZipFile.builder().setPath(path).get();
        } catch (IOException | RuntimeException e) {
            throw new SourceFormatException(path, -1, "not a readable zip archive: " + e, e);
        }
        try (zip) {
            Map<String, ZipArchiveEntry> entries = new HashMap<>();
            String root = null;
            for (ZipArchiveEntry e : Collections.list(zip.getEntriesInPhysicalOrder())) {
                String name = e.getName();
                int slash = name.indexOf('/');
                if (slash <= 0) {
                    throw new SourceFormatException(path, e.getLocalHeaderOffset(), "member '" + name
                            + "' is not inside the archive's one folder, as torch.save writes it");
                }
                String r = name.substring(0, slash);
                if (root != null && !root.equals(r)) {
                    throw new SourceFormatException(path, e.getLocalHeaderOffset(), "members under two folders, '" + root
                            + "' and '" + r + "'; torch.save writes one");
                }
                root = r;
                if (entries.put(name.substring(slash + 1), e) != null) {
                    throw new SourceFormatException(path, e.getLocalHeaderOffset(), "member '" + name + "' appears twice");
                }
            }
            if (entries.containsKey("constants.pkl") || entries.keySet().stream().anyMatch(n -> n.startsWith("code/"))) {
                throw new SourceFormatException(path, -1, "a TorchScript archive (torch.jit.save), not a state dict;"
                        + " save the weights with torch.save(model.state_dict(), ...)");
            }
            ZipArchiveEntry pkl = entries.get("data.pkl");
            if (pkl == null) {
                throw new SourceFormatException(path, -1, "no data.pkl in the archive: not a torch.save file");
            }
            ZipArchiveEntry order = entries.get("byteorder");
            if (order != null) {
                String bo = new String(small(path, zip, order, 16), StandardCharsets.US_ASCII).strip();
                if (!bo.equals("little")) {
                    throw new SourceFormatException(path, order.getLocalHeaderOffset(), "member 'byteorder' says '" + bo
                            + "'; only little-endian storages are read");
                }
            }
            Object dict;
            try {
                dict = TorchPickle.load(small(path, zip, pkl, TorchPickle.MAX_PICKLE));
            } catch (TorchPickle.Refused r) {
                throw new SourceFormatException(path, -1, "data.pkl at byte " + r.offset + ": " + r.getMessage());
            }
            if (!(dict instanceof Map<?, ?> m)) {
                throw new SourceFormatException(path, -1, "data.pkl holds a " + describe(dict)
                        + ", not a state dict (a dict of name -> tensor)");
            }
            List<SourceTensor> tensors = new ArrayList<>();
            for (Map.Entry<?, ?> kv : m.entrySet()) {
                if (!(kv.getKey() instanceof String name)) {
                    throw new SourceFormatException(path, -1, "state dict key " + kv.getKey() + " is not a string");
                }
                if (!(kv.getValue() instanceof TorchPickle.Tensor t)) {
                    throw new SourceFormatException(path, -1, "entry '" + name + "' is a " + describe(kv.getValue())
                            + ", not a tensor: daxload reads state dicts (a flat dict of name -> tensor), not training"
                            + " checkpoints; save model.state_dict()");
                }
                tensors.add(tensor(path, fileSize, entries, name, t));
            }
            JsonObject meta = new JsonObject();
            ZipArchiveEntry version = entries.get("version");
            if (version != null) {
                meta.addProperty("torch.archive_version", new String(small(path, zip, version, 64), StandardCharsets.US_ASCII).strip());
            }
            return new SourceModel(format(), List.of(path), meta, tensors, Map.of());
        } catch (SourceFormatException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new SourceFormatException(path, -1, "not a readable torch.save archive: " + e, e);
        }
    }

    private static String describe(Object o) {
        return switch (o) {
            case Map<?, ?> m -> "dict";
            case List<?> l -> "list";
            case TorchPickle.Tuple t -> "tuple";
            case Long l -> "int";
            case Double d -> "float";
            case String s -> "string";
            case Boolean b -> "bool";
            case TorchPickle.None n -> "None";
            default -> o.getClass().getSimpleName();
        };
    }

    private static byte[] small(Path path, ZipFile zip, ZipArchiveEntry e, int max) throws IOException {
        // Any other method would send commons-compress to a codec that is not on the class path (XZ:
        // a NoClassDefFoundError, found by SourceFuzzTest with -Dtests.seed=-6581882571762813198).
        if (e.getMethod() != STORED && e.getMethod() != DEFLATED) {
            throw new SourceFormatException(path, e.getLocalHeaderOffset(), "member '" + e.getName() + "' uses compression method "
                    + e.getMethod() + "; expected stored (0) or deflated (8)");
        }
        if (e.getSize() > max) {
            throw new SourceFormatException(path, e.getLocalHeaderOffset(), "member '" + e.getName() + "' is "
                    + e.getSize() + " bytes, more than the " + max + " expected");
        }
        try (InputStream in = zip.getInputStream(e)) {
            byte[] b = in.readNBytes(max + 1);
            if (b.length > max) {
                throw new SourceFormatException(path, e.getLocalHeaderOffset(), "member '" + e.getName() + "' is longer than " + max + " bytes");
            }
            return b;
        }
    }

    private static SourceTensor tensor(Path path, long fileSize, Map<String, ZipArchiveEntry> entries, String name,
                                       TorchPickle.Tensor t) throws IOException {
        TorchPickle.Storage s = t.storage();
        ZipArchiveEntry e = entries.get("data/" + s.key());
        if (e == null) {
            throw new SourceFormatException(path, -1, "tensor '" + name + "': its storage 'data/" + s.key() + "' is not in the archive");
        }
        long lho = e.getLocalHeaderOffset();
        if (e.getMethod() != STORED) {
            throw new SourceFormatException(path, lho, "tensor '" + name + "': storage member '" + e.getName()
                    + "' is compressed (method " + e.getMethod() + "); torch.save stores them");
        }
        long storageElem = s.elementSize();
        if (e.getSize() < 0 || s.numel() > e.getSize() / storageElem || s.numel() * storageElem != e.getSize()) {
            throw new SourceFormatException(path, lho, "tensor '" + name + "': storage '" + e.getName() + "' holds "
                    + e.getSize() + " bytes, but its pickle says " + s.numel() + " elements of " + storageElem + " bytes");
        }
        long elem = t.elementSize();
        long storageBytes = e.getSize();
        long data = e.getDataOffset();
        if (data < 0 || data > fileSize - e.getSize()) {
            throw new SourceFormatException(path, lho, "tensor '" + name + "': storage '" + e.getName() + "' lies past the end of the file");
        }
        long[] shape = t.size();
        long numel = 1;
        for (long d : shape) {
            numel = Math.multiplyExact(numel, d);
        }
        // C order: each stride is the product of the sizes after it; Fortran order (a transposed matrix, a
        // fully reversed permute): the product of the sizes before it. A dimension of size 1 may say anything.
        boolean c = true;
        boolean fortran = true;
        long expectC = 1;
        long expectF = 1;
        for (int i = 0; i < shape.length; i++) {
            int j = shape.length - 1 - i;
            if (shape[j] != 1 && t.stride()[j] != expectC) {
                c = false;
            }
            if (shape[i] != 1 && t.stride()[i] != expectF) {
                fortran = false;
            }
            expectC = Math.multiplyExact(expectC, shape[j]);
            expectF = Math.multiplyExact(expectF, shape[i]);
        }
        if (numel > 0 && !c && !fortran) {
            throw new SourceFormatException(path, -1, "tensor '" + name + "': strides " + java.util.Arrays.toString(t.stride())
                    + " for shape " + java.util.Arrays.toString(shape) + " are neither C nor Fortran order (a strided slice or"
                    + " a partial permute); save it with .contiguous()");
        }
        long storageElements = storageBytes / elem;
        if (t.offset() > storageElements || numel > storageElements - t.offset()) {
            throw new SourceFormatException(path, -1, "tensor '" + name + "': " + numel + " elements from storage offset "
                    + t.offset() + " run past its storage of " + storageElements);
        }
        FileContent bytes = FileContent.range(path, data + t.offset() * elem, numel * elem);
        if (numel > 0 && !c) {
            // A transposed view: gathered into C order while it is written (mapped, never in the heap).
            bytes = new FortranOrderContent(bytes, shape, (int) elem, 1);
        }
        return new SourceTensor(name, t.dtype(), shape, bytes);
    }
}
