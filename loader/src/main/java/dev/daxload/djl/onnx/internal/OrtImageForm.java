package dev.daxload.djl.onnx.internal;

import dev.daxload.image.DaxImage;
import dev.daxload.image.DaxInode;
import dev.daxload.image.internal.ImageFiles;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * ONNX Runtime's own optimized form of a model, stored in an image beside the model's tensors, one
 * directory per key (an image may carry forms for several processors):
 *
 * <pre>
 * /&lt;model&gt;/ort/&lt;key id&gt;/key.json     what the form depends on ({@link OrtFormKey})
 * /&lt;model&gt;/ort/&lt;key id&gt;/model.onnx   the optimized graph; its external data entries name {@link #IMAGE_LINK}
 *                                       at offsets into the image itself
 * /&lt;model&gt;/ort/&lt;key id&gt;/model.data   what ORT changed or made: serialized prepacked blobs, fused weights
 * </pre>
 *
 * <p>Because the graph's offsets are absolute within the image, a file named {@link #IMAGE_LINK} beside
 * the graph that leads to the image file is all ONNX Runtime needs: it maps each weight and prepacked
 * blob from the image's own pages. Initializers that ORT left as they were point at the model's own
 * tensor files ({@code /<model>/tensors/...}), so the weights are stored once.
 *
 * @param model the model's name
 * @param dir the form's directory within the image, e.g. {@code bge/ort/0123456789abcdef}
 * @param key what the form was made for
 */
public record OrtImageForm(String model, String dir, OrtFormKey key) {
    /** The directory under a model that holds its forms. */
    public static final String DIR = "ort";
    public static final String KEY_FILE = "key.json";
    public static final String GRAPH_FILE = "model.onnx";
    public static final String DATA_FILE = "model.data";
    /** The name the graph's external data entries give as their location: a link to the image file. */
    public static final String IMAGE_LINK = "daxfs.image";
    /** The largest key file read (a few hundred bytes are written). */
    private static final long MAX_KEY_BYTES = 64 << 10;

    /** Every form stored for {@code model} in a mapped image, in directory order; none when the image has none. */
    public static List<OrtImageForm> list(DaxImage image, String model) throws IOException {
        return list(ImageFiles.of(image), model);
    }

    /** Every form stored for {@code model}, in directory order; none when the image has none. */
    public static List<OrtImageForm> list(ImageFiles image, String model) throws IOException {
        String base = model + "/" + DIR;
        if (!image.isDirectory(base)) {
            return List.of();
        }
        List<OrtImageForm> out = new ArrayList<>();
        for (String name : image.list(base)) {
            String dir = base + "/" + name;
            String where = image.source() + ":/" + dir + "/" + KEY_FILE;
            OrtFormKey key = OrtFormKey.parse(image.read(dir + "/" + KEY_FILE, MAX_KEY_BYTES), where);
            for (String file : List.of(DATA_FILE, GRAPH_FILE)) {
                if (!image.isRegularFile(dir + "/" + file)) {
                    throw new java.nio.file.NoSuchFileException(image.source() + ":/" + dir + "/" + file,
                            null, "ONNX Runtime form '" + dir + "' has no regular file " + file);
                }
            }
            out.add(new OrtImageForm(model, dir, key));
        }
        return out;
    }

    /** The optimized graph's bytes (about 100 KB for a BERT-small), copied out of a mapped image. */
    public byte[] graph(DaxImage image) throws IOException {
        return ImageFiles.of(image).read(dir + "/" + GRAPH_FILE, Integer.MAX_VALUE - 8);
    }

    /** The data file's inode in a mapped image: where ORT's prepacked blobs and changed weights lie. */
    public DaxInode data(DaxImage image) throws IOException {
        return image.resolve(dir + "/" + DATA_FILE);
    }
}
