package dev.daxload.samples;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.ZooModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code mapping}, {@code populate} and {@code hugepages} options of a {@code daxfs:} URL do what
 * the README says, as the kernel reports it in {@code /proc/self/smaps} for the image's mapping while
 * the model is loaded: shared or private, every page present, huge pages advised.
 */
class DaxfsUrlOptionsTest {
    @TempDir static Path tmp;
    static Path image;
    static HuggingFaceTokenizer tokenizer;

    @BeforeAll
    static void pack() throws Exception {
        image = OrtInitializersInTheImageTest.packMiniLm(tmp);
        tokenizer = HuggingFaceTokenizer.newInstance(OrtInitializersInTheImageTest.modelDir.resolve("all-minilm-l6-v2-tokenizer.json"));
    }

    /** One mapping of a file, as smaps describes it. */
    record Vma(String perms, long sizeKb, long rssKb, String vmFlags) {}

    @org.junit.jupiter.api.AfterAll
    static void closeTokenizer() {
        tokenizer.close();
    }

    @Test
    void privateIsTheDefaultAndSharedIsShared() throws Exception {
        for (String mapping : new String[] {null, "private", "shared"}) {
            List<Vma> vmas = whileLoaded(mapping == null ? "" : "mapping=" + mapping);
            char expected = "shared".equals(mapping) ? 's' : 'p';
            for (Vma v : vmas) {
                assertEquals(expected, v.perms().charAt(3), "mapping=" + mapping + ": " + v);
                if (expected == 's') {
                    assertEquals('-', v.perms().charAt(1), "a shared mapping of the image is read-only: " + v);
                }
            }
        }
    }

    @Test
    void populateFaultsEveryPageIn() throws Exception {
        List<Vma> vmas = whileLoaded("populate=true");
        long size = vmas.stream().mapToLong(Vma::sizeKb).sum();
        long rss = vmas.stream().mapToLong(Vma::rssKb).sum();
        assertEquals(size, rss, "populate=true: every page of the image is mapped after the load: " + vmas);
    }

    @Test
    void hugepagesAdvisesHugePages() throws Exception {
        Path thp = Path.of("/sys/kernel/mm/transparent_hugepage/enabled");
        assumeTrue(Files.isReadable(thp) && !Files.readString(thp).contains("[never]"),
                "this kernel has transparent huge pages off or absent: MADV_HUGEPAGE cannot be seen");
        for (Vma v : whileLoaded("hugepages=true")) {
            assertTrue((" " + v.vmFlags() + " ").contains(" hg "), "hugepages=true: VmFlags has hg (MADV_HUGEPAGE): " + v);
        }
        for (Vma v : whileLoaded("")) {
            assertFalse((" " + v.vmFlags() + " ").contains(" hg "), "without hugepages=true no huge page advice: " + v);
        }
    }

    /** Loads the model with {@code options}, answers one sentence, and returns the image's mappings meanwhile. */
    private static List<Vma> whileLoaded(String options) throws Exception {
        try (ZooModel<String, float[]> model = OrtInitializersInTheImageTest.load(image, tokenizer, options);
             Predictor<String, float[]> p = model.newPredictor()) {
            assertEquals(384, p.predict("options").length);
            List<Vma> vmas = mappingsOf(image.toRealPath().toString());
            assertFalse(vmas.isEmpty(), options + ": the image is not mapped while its model is loaded");
            return vmas;
        }
    }

    static List<Vma> mappingsOf(String path) throws IOException {
        List<Vma> out = new ArrayList<>();
        List<String> lines = Files.readAllLines(Path.of("/proc/self/smaps"));
        for (int i = 0; i < lines.size(); i++) {
            String[] head = lines.get(i).split("\\s+", 6);
            if (head.length < 6 || !head[0].contains("-") || !head[5].equals(path)) {
                continue;
            }
            long size = 0;
            long rss = 0;
            String flags = "";
            for (int j = i + 1; j < lines.size() && !lines.get(j).matches("^[0-9a-f]+-[0-9a-f]+ .*"); j++) {
                String l = lines.get(j);
                if (l.startsWith("Size:")) {
                    size = kb(l);
                } else if (l.startsWith("Rss:")) {
                    rss = kb(l);
                } else if (l.startsWith("VmFlags:")) {
                    flags = l.substring("VmFlags:".length()).trim();
                }
            }
            out.add(new Vma(head[1], size, rss, flags));
        }
        return out;
    }

    private static long kb(String line) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
    }
}
