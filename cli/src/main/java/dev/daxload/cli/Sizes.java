package dev.daxload.cli;

import picocli.CommandLine;

/** Byte counts for people: printing (1.5 GiB) and parsing (2M, 4096, 1G). */
final class Sizes {
    private Sizes() {}

    static String human(long bytes) {
        if (bytes < 0) {
            return "-" + human(-bytes);
        }
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return u == 0 ? bytes + " B" : String.format("%.1f %s", v, units[u]);
    }

    /** Parses 4096, 64K, 2M, 1G (binary multiples). */
    static final class Converter implements CommandLine.ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            String v = value.trim().toUpperCase(java.util.Locale.ROOT).replaceAll("I?B$", "");
            long mult = 1;
            if (!v.isEmpty()) {
                switch (v.charAt(v.length() - 1)) {
                    case 'K' -> mult = 1L << 10;
                    case 'M' -> mult = 1L << 20;
                    case 'G' -> mult = 1L << 30;
                    default -> mult = 1;
                }
            }
            if (mult > 1) {
                v = v.substring(0, v.length() - 1);
            }
            try {
                return Math.multiplyExact(Long.parseLong(v), mult);
            } catch (NumberFormatException | ArithmeticException e) {
                throw new CommandLine.TypeConversionException("'" + value + "' is not a size (examples: 4096, 64K, 2M, 1G)");
            }
        }
    }

    /**
     * Parses an {@code --align} size and refuses, as bad usage (exit 2), one the image writer cannot
     * use: not a power of two, or under the 4 KiB block.
     */
    static final class AlignmentConverter implements CommandLine.ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            long bytes = new Converter().convert(value);
            if (bytes < 4096 || Long.bitCount(bytes) != 1) {
                throw new CommandLine.TypeConversionException("'" + value + "' is not an alignment: expected a power of two of at least 4096 (examples: 4096, 64K, 2M)");
            }
            return bytes;
        }
    }
}
