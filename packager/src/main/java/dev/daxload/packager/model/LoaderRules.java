package dev.daxload.packager.model;

import com.google.gson.JsonObject;
import dev.daxload.manifest.ManifestException;
import dev.daxload.manifest.ModelManifest;
import dev.daxload.manifest.TensorEntry;
import java.util.List;

/**
 * The loader's own rules, applied by the packer before it writes anything: each tensor's entry, and
 * then the whole manifest, go through {@link ModelManifest#parse} (the loader's parser), so an image
 * that pack-model writes is one the loader reads. No rule is copied here: when the loader's parser
 * gains a rule, the packer applies it too.
 */
final class LoaderRules {
    private LoaderRules() {}

    /**
     * Checks one tensor as the loader would see it in a manifest.
     *
     * @param where the source file, for messages
     * @throws IllegalArgumentException naming {@code where} and the tensor, with the loader's reason
     */
    static void checkTensor(String model, TensorEntry entry, String where) {
        checkUnicode(entry.name(), where);
        byte[] json = new ModelManifest(model, new JsonObject(), new JsonObject(), List.of(entry), List.of(), List.of()).toJson();
        try {
            ModelManifest.parse(json, where);
        } catch (ManifestException e) {
            throw new IllegalArgumentException(e.getMessage() + " (the loader would refuse this image)", e);
        }
    }

    /** Checks a whole manifest as the loader will read it. */
    static void checkManifest(byte[] json, String where) throws ManifestException {
        ModelManifest.parse(json, where);
    }

    /**
     * A name with a lone UTF-16 surrogate (from a JSON escape such as {@code "\ud800"}) has no UTF-8
     * form: written out it would become '?' and no longer match the source.
     */
    static void checkUnicode(String name, String where) {
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < name.length() && Character.isLowSurrogate(name.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw new IllegalArgumentException(where + ": tensor name '" + escape(name) + "' holds a lone UTF-16 surrogate (\\u"
                        + String.format("%04x", (int) c) + " at char " + i + "): it is not Unicode text and has no UTF-8 form");
            }
        }
    }

    private static String escape(String s) {
        StringBuilder b = new StringBuilder();
        s.codePoints().limit(200).forEach(cp -> {
            if (Character.isSurrogate((char) cp) || cp < 0x20) {
                b.append(String.format("\\u%04x", cp));
            } else {
                b.appendCodePoint(cp);
            }
        });
        return b.toString();
    }
}
