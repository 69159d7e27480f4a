package dev.daxload.djl;

import static org.junit.jupiter.api.Assertions.*;

import com.google.gson.JsonObject;
import dev.daxload.model.ModelWeights;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.model.ModelPackager;
import dev.daxload.packager.source.SourceModel;
import dev.daxload.packager.table.TableBuilder;
import dev.daxload.table.LookupTable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A model's lookup table, packed beside its weights and answered in place through {@link ModelWeights}. */
class ModelTablesTest {
    @TempDir Path tmp;

    @Test
    void vocabularyAnsweredFromTheImage() throws Exception {
        Path csv = tmp.resolve("vocab.csv");
        Files.writeString(csv, "token,id,score\n[CLS],101,0.5\nhello,7592,1.25\n\"a,b\",42,-3\n");
        Path image = tmp.resolve("t.daxfs");
        ModelPackager p = new ModelPackager();
        try (TableBuilder vocab = TableBuilder.csv(csv).key("token")) {
            ModelPackager.Model m = p.model("bert").add(new SourceModel("raw", List.of(), new JsonObject(),
                    List.of(TestImages.tensor("w", "F32", new long[] {1}, new byte[4])), Map.of()));
            vocab.addTo(m.tablesDirectory(), "vocab");
            m.table("vocab");
            p.write(new ImageWriter(), image);
        }
        try (ModelWeights w = ModelWeights.open(image, "bert")) {
            LookupTable vocab = w.table("vocab");
            long row = vocab.rowOf("hello").orElseThrow();
            assertEquals(7592, vocab.getLong("id", row));
            assertEquals(1.25, vocab.getDouble("score", row));
            assertEquals(42, vocab.getLong("id", vocab.rowOf("a,b").orElseThrow()));
            assertTrue(vocab.rowOf("absent").isEmpty());
            assertThrows(IllegalArgumentException.class, () -> w.table("nope"));
        }
    }
}
