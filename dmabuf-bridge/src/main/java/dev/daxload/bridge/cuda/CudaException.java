package dev.daxload.bridge.cuda;

import java.io.IOException;

/**
 * A CUDA driver call failed. The message names the call, the {@code CUresult} (number and name)
 * and, where daxload knows one, what to do.
 */
public class CudaException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int result;

    /**
     * @param call the call as a person would write it
     * @param result the {@code CUresult}
     * @param name its name, or null
     * @param hint what to do, or null
     */
    public CudaException(String call, int result, String name, String hint) {
        super(call + " failed: " + (name != null ? name : "CUresult") + " (" + result + ")" + (hint != null ? ": " + hint : ""));
        this.call = call;
        this.result = result;
    }

    /** @return the failed call */
    public String call() {
        return call;
    }

    /** @return the {@code CUresult} */
    public int result() {
        return result;
    }

    /** Hints that hold whatever the call. */
    static String commonHint(int result) {
        return switch (result) {
            case CuApi.CUDA_ERROR_OUT_OF_MEMORY -> "the device has no room for this: free device memory or use a smaller image";
            case CuApi.CUDA_ERROR_NOT_INITIALIZED -> "cuInit was not called (a bug in daxload)";
            case CuApi.CUDA_ERROR_NO_DEVICE -> "the driver sees no GPU (check nvidia-smi and CUDA_VISIBLE_DEVICES)";
            case CuApi.CUDA_ERROR_NOT_SUPPORTED -> "this device or driver does not support the operation";
            case 999 -> "unknown error: the driver's log (dmesg, nvidia-smi -q) may say more";
            default -> null;
        };
    }
}
