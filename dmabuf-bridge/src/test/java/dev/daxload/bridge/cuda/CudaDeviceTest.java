package dev.daxload.bridge.cuda;

import dev.daxload.bridge.ProcSnapshot;
import dev.daxload.bridge.dmabuf.TinyImage;
import dev.daxload.bridge.linux.NativeFd;
import dev.daxload.image.internal.DaxfsLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The real driver. Skips with the probe's reason where there is no CUDA (here: "no CUDA driver
 * (libcuda.so.1 not found)"); runs on a GPU machine through gpu/run-gpu-checks.sh.
 */
class CudaDeviceTest {
    @Test
    void probingNeverThrowsAndSaysWhy() {
        CudaDriver.Probe p = CudaDriver.probe();
        assertNotNull(p.reason());
        assertSame(p, CudaDriver.probe(), "probed once per JVM");
        if (!p.available()) {
            assertTrue(p.devices().isEmpty());
            CudaException e = assertThrows(CudaException.class, () -> CudaDriver.open(0));
            assertTrue(e.getMessage().contains(p.reason()), e.getMessage());
        } else {
            assertFalse(p.devices().isEmpty());
            assertTrue(p.driverVersion() > 0);
        }
    }

    @Test
    void whereThereIsNoLibcudaTheReasonNamesIt() {
        boolean libcuda = Files.exists(Path.of("/proc/driver/nvidia")) || java.util.stream.Stream.of("/usr/lib/x86_64-linux-gnu",
                "/usr/lib64", "/usr/lib", "/usr/local/nvidia/lib64").anyMatch(d -> Files.exists(Path.of(d, "libcuda.so.1")));
        assumeTrue(!libcuda, "this machine has an NVIDIA driver");
        CudaDriver.Probe p = CudaDriver.probe();
        assertFalse(p.available());
        assertTrue(p.reason().startsWith(CudaDriver.NO_DRIVER), p.reason());
    }

    private static CudaDriver.Probe gpu() {
        CudaDriver.Probe p = CudaDriver.probe();
        assumeTrue(p.available(), p.reason());
        return p;
    }

    /** The tiny image at the front of {@code size} bytes of pattern, so pieces and padding are both checked. */
    private static MemorySegment image(Arena a, long size) {
        MemorySegment s = a.allocate(size, 4096);
        for (long i = 0; i < size; i += 8) {
            s.set(ValueLayout.JAVA_LONG_UNALIGNED, i, i * 0x9E3779B97F4A7C15L);
        }
        s.copyFrom(MemorySegment.ofArray(TinyImage.bytes()));
        return s;
    }

    @Test
    void uploadReadBackExportAttachAndReleaseOnARealGpu() throws Exception {
        gpu();
        try (Arena a = Arena.ofConfined(); CudaDriver cu = CudaDriver.open(0)) {
            MemorySegment img = image(a, (96L << 20) + 4096);
            try (DeviceImage dev = DeviceImage.upload(cu, img, "test", 8 << 20)) {
                assertEquals(DaxfsLayout.SUPER_MAGIC, ByteBuffer.wrap(dev.read(0, 4)).order(ByteOrder.LITTLE_ENDIAN).getInt());
                long last = img.byteSize() - 4096;
                assertArrayEquals(img.asSlice(last, 4096).toArray(ValueLayout.JAVA_BYTE), dev.read(last, 4096));
                DeviceImage.UploadStats up = dev.uploadStats();
                DeviceImage.UploadStats ref = dev.measurePlainCopy(img);
                System.out.printf("upload %.2f GB/s chunked vs %.2f GB/s plain cuMemcpyHtoD from pinned (%d MiB)%n",
                        up.gbPerSecond(), ref.gbPerSecond(), img.byteSize() >> 20);
                try (NativeFd fd = dev.exportFd();
                     DeviceImage again = DeviceImage.attach(cu, fd, dev.allocationSize(), dev.imageSize())) {
                    assertArrayEquals(dev.read(last, 4096), again.read(last, 4096));
                }
            }
        }
    }

    @Test
    void theGpuDmaBufMountIsRefusedClearly(@TempDir Path dir) throws Exception {
        gpu();
        try (Arena a = Arena.ofConfined(); CudaDriver cu = CudaDriver.open(0);
             DeviceImage dev = DeviceImage.upload(cu, image(a, 4L << 20), "test", 1 << 20)) {
            DeviceImage.MountAttempt m = dev.tryMountDaxfs(dir);
            System.out.println("GPU dma-buf mount: " + m.report());
            // NVIDIA's dma-bufs have no kernel vmap (design.md): a mount that succeeds contradicts
            // what the project documents and must be looked at, not passed.
            assertFalse(m.mounted(), m.report());
            assumeTrue(!m.report().contains("EPERM") && !m.report().contains("EACCES"), "not permitted to mount here: " + m.report());
            assertTrue(m.report().contains("EINVAL") || m.report().contains("ENODEV") || m.report().contains("CUDA_ERROR")
                    || m.report().contains("no dma-buf"), m.report());
        }
    }

    @Test
    void hostShapeTheDeviceReadsTheMemfdPages(@TempDir Path dir) throws Exception {
        CudaDriver.Probe p = gpu();
        Path file = dir.resolve("tiny.daxfs");
        Files.write(file, TinyImage.bytes());
        try (CudaDriver cu = CudaDriver.open(0)) {
            assumeTrue(p.devices().getFirst().hostRegister(), "device 0 cannot register host memory");
            try (HostImage h = HostImage.create(cu, file)) {
                assertArrayEquals(h.segment().asSlice(0, 4096).toArray(ValueLayout.JAVA_BYTE), h.readThroughDevice(0, 4096));
            }
        }
    }

    @Test
    void cyclesLeaveNoFdsOrMappings() throws Exception {
        gpu();
        try (Arena a = Arena.ofConfined(); CudaDriver cu = CudaDriver.open(0)) {
            MemorySegment img = image(a, 4L << 20);
            cycle(cu, img); // warm up: driver-internal fds and mappings made once
            ProcSnapshot before = ProcSnapshot.take();
            for (int i = 0; i < 20; i++) {
                cycle(cu, img);
            }
            ProcSnapshot after = ProcSnapshot.take();
            // The driver keeps a few fds of its own (/dev/nvidia*); ours are the exports.
            assertEquals(before.fds().size(), after.fds().size(), ProcSnapshot.diff(before.fds(), after.fds()));
            assertTrue(Math.abs(after.maps().size() - before.maps().size()) < 8, ProcSnapshot.diff(before.maps(), after.maps()));
        }
    }

    private static void cycle(CudaDriver cu, MemorySegment img) throws Exception {
        try (DeviceImage dev = DeviceImage.upload(cu, img, "leak", 1 << 20); NativeFd fd = dev.exportFd();
             DeviceImage again = DeviceImage.attach(cu, fd, dev.allocationSize(), dev.imageSize())) {
            assertEquals(4, again.read(0, 4).length);
        }
    }
}
