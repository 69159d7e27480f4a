package dev.daxload.packager.table;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.packager.table.Cells.Kind;
import org.junit.jupiter.api.Test;

/** The inference grammar: what TableBuilder's Javadoc promises users about their columns' types. */
class CellsTest {

    @Test
    void integersFitALong() {
        for (String s : new String[] {"0", "-0", "+7", "007", "-9223372036854775808", "9223372036854775807"}) {
            assertEquals(Kind.INTEGER, Cells.classify(s), s);
        }
        assertEquals(Kind.DECIMAL, Cells.classify("9223372036854775808"), "too large for a long: a number all the same");
    }

    @Test
    void decimalsAreWhatDoubleReadsInPlainNotation() {
        for (String s : new String[] {"1.5", "-.5", "5.", "1e3", "1E-3", "-2.5e+10", "NaN", "-inf", "Infinity", "+INF"}) {
            assertEquals(Kind.DECIMAL, Cells.classify(s), s);
            Cells.toDouble(s); // must not throw
        }
        assertEquals(Double.NEGATIVE_INFINITY, Cells.toDouble("-inf"));
        assertTrue(Double.isNaN(Cells.toDouble("nan")));
        assertEquals(-0.5, Cells.toDouble("-.5"));
    }

    @Test
    void everythingElseIsText() {
        for (String s : new String[] {"", "-", ".", "e5", "1e", "1.5.", " 1", "1 ", "0x10", "1d", "1f", "1_000", "1,5", "nan2", "--1"}) {
            assertEquals(Kind.TEXT, Cells.classify(s), "'" + s + "'");
        }
    }
}
