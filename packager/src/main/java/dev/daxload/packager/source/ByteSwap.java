package dev.daxload.packager.source;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/** Reverses the byte order of fixed-size units in place: big-endian source data into little-endian. */
final class ByteSwap {
    private static final VarHandle SHORT = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private ByteSwap() {
    }

    /**
     * Swaps every {@code unit}-byte group of {@code a[off, off + len)}; {@code len} must be a multiple of
     * {@code unit}. Units of 1 (or 0, meaning "no swap") leave the bytes alone.
     */
    static void swap(byte[] a, int off, int len, int unit) {
        if (len % Math.max(unit, 1) != 0) {
            throw new IllegalArgumentException(len + " bytes are not whole " + unit + "-byte units");
        }
        int endIdx = off + len;
        switch (unit) {
            case 0, 1 -> {
            }
            case 2 -> {
                for (int i = off; i < endIdx; i += 2) {
                    SHORT.set(a, i, Short.reverseBytes((short) SHORT.get(a, i)));
                }
            }
            case 4 -> {
                for (int i = off; i < endIdx; i += 4) {
                    INT.set(a, i, Integer.reverseBytes((int) INT.get(a, i)));
                }
            }
            case 8 -> {
                for (int i = off; i < endIdx; i += 8) {
                    LONG.set(a, i, Long.reverseBytes((long) LONG.get(a, i)));
                }
            }
            default -> {
                for (int i = off; i < endIdx; i += unit) {
                    for (int lo = i, hi = i + unit - 1; lo < hi; lo++, hi--) {
                        byte t = a[lo];
                        a[lo] = a[hi];
                        a[hi] = t;
                    }
                }
            }
        }
    }
}
