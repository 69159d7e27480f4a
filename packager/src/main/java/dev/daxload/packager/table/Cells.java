package dev.daxload.packager.table;

import java.util.Locale;

/** What a cell's text looks like, and its conversions: one grammar for inference and for parsing. */
final class Cells {
    private Cells() {}

    enum Kind { INTEGER, DECIMAL, TEXT }

    /**
     * INTEGER: an optional sign and decimal digits, within the range of a long. DECIMAL: any other
     * decimal number ({@code 1.5}, {@code -.5e-3}, {@code 1e400}, an integer too large for a long) or
     * NaN/Inf/Infinity in any case with an optional sign. TEXT: the rest, including text with spaces
     * around a number: cells are taken as written.
     */
    static Kind classify(String s) {
        int n = s.length();
        int i = 0;
        if (i < n && (s.charAt(i) == '-' || s.charAt(i) == '+')) {
            i++;
        }
        int digitsStart = i;
        while (i < n && isDigit(s.charAt(i))) {
            i++;
        }
        int intDigits = i - digitsStart;
        if (i == n && intDigits > 0) {
            return fitsLong(s) ? Kind.INTEGER : Kind.DECIMAL;
        }
        int fracDigits = 0;
        if (i < n && s.charAt(i) == '.') {
            i++;
            int f = i;
            while (i < n && isDigit(s.charAt(i))) {
                i++;
            }
            fracDigits = i - f;
        }
        if (intDigits + fracDigits == 0) {
            return special(s) ? Kind.DECIMAL : Kind.TEXT;
        }
        if (i < n && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
            i++;
            if (i < n && (s.charAt(i) == '-' || s.charAt(i) == '+')) {
                i++;
            }
            int e = i;
            while (i < n && isDigit(s.charAt(i))) {
                i++;
            }
            if (i == e) {
                return Kind.TEXT;
            }
        }
        return i == n ? Kind.DECIMAL : Kind.TEXT;
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private static boolean fitsLong(String s) {
        try {
            Long.parseLong(s);
            return true;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    private static boolean special(String s) {
        String t = s.toLowerCase(Locale.ROOT);
        if (t.startsWith("-") || t.startsWith("+")) {
            t = t.substring(1);
        }
        return t.equals("nan") || t.equals("inf") || t.equals("infinity");
    }

    /** The value of a cell that {@link #classify} calls INTEGER or DECIMAL. */
    static double toDouble(String s) {
        String t = s.toLowerCase(Locale.ROOT);
        boolean negative = t.startsWith("-");
        String u = t.startsWith("-") || t.startsWith("+") ? t.substring(1) : t;
        return switch (u) {
            case "nan" -> Double.NaN;
            case "inf", "infinity" -> negative ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
            default -> Double.parseDouble(s);
        };
    }

    /** A cell cut short for a message. */
    static String quote(String s) {
        String t = s.length() > 60 ? s.substring(0, 57) + "..." : s;
        return "'" + t.replace("\n", "\\n").replace("\r", "\\r") + "'";
    }
}
