package dev.daxload.bridge.cuda;

import dev.daxload.bridge.linux.NativeFd;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Optional;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The logic above the driver calls, run against {@link FakeCuApi}: chunk planning, the two-buffer
 * pipeline, release order, and that every error path releases what it acquired. Whether the real
 * driver agrees is for {@link CudaDeviceTest} on a GPU.
 */
class CudaStandInTest {
    private static final CudaDriver.Device INFO = new CudaDriver.Device(0, "stand-in GPU", true, true, false, true, true);

    @Test
    void chunkPlansCoverEveryByteOnce() {
        assertEquals(List.of(), ChunkPlan.of(0, 10));
        assertEquals(List.of(new ChunkPlan.Chunk(0, 0, 10)), ChunkPlan.of(10, 10));
        assertEquals(List.of(new ChunkPlan.Chunk(0, 0, 10), new ChunkPlan.Chunk(1, 10, 1)), ChunkPlan.of(11, 10));
        for (long size : new long[] {1, 4095, 4096, 4097, 100_000_001L}) {
            for (long chunk : new long[] {1 << 12, 1 << 20, 32L << 20}) {
                if (size / chunk > 1_000_000) {
                    continue;
                }
                long next = 0;
                for (ChunkPlan.Chunk c : ChunkPlan.of(size, chunk)) {
                    assertEquals(next, c.offset());
                    assertTrue(c.length() > 0 && c.length() <= chunk);
                    next += c.length();
                }
                assertEquals(size, next);
            }
        }
        assertEquals(4L << 20, ChunkPlan.roundUp(3L << 20, 2 << 20));
        assertEquals(2L << 20, ChunkPlan.roundUp(2L << 20, 2 << 20));
        assertEquals(5000, ChunkPlan.chunkFor(5000, 32 << 20));
        assertEquals(1, ChunkPlan.buffersFor(1));
        assertEquals(2, ChunkPlan.buffersFor(7));
        assertThrows(IllegalArgumentException.class, () -> ChunkPlan.of(10, 0));
        assertEquals(2.0, ChunkPlan.gbPerSecond(2_000_000_000L, 1_000_000_000L), 1e-9);
    }

    @Test
    void uploadCopiesEveryPieceThroughTwoBuffersAndCloseReleasesAll() throws Exception {
        FakeCuApi api = new FakeCuApi();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment image = random(a, (5 << 20) + 123);
            try (CudaDriver cu = CudaDriver.open(api, 0, INFO)) {
                try (DeviceImage dev = DeviceImage.upload(cu, image, "test", 1 << 20)) {
                    assertEquals(image.byteSize(), dev.imageSize());
                    assertEquals(6L << 20, dev.allocationSize(), "rounded up to the 2 MiB granularity");
                    assertEquals(6, dev.uploadStats().chunks());
                    assertEquals(6, api.asyncCopies);
                    assertEquals(1, api.maxInFlightPerStream, "a buffer is reused only after its stream drained");
                    assertEquals("handles reservations mappings", api.live().replaceAll("\\d+ ", "").replace(" contexts", ""),
                            "pinned buffers and streams are gone after the upload");
                    assertArrayEquals(image.toArray(ValueLayout.JAVA_BYTE), dev.read(0, (int) image.byteSize()));
                    assertEquals(dev.base() + 4096, dev.pointer(4096));
                    assertThrows(IndexOutOfBoundsException.class, () -> dev.pointer(image.byteSize()));
                    DeviceImage.UploadStats ref = dev.measurePlainCopy(image);
                    assertEquals(image.byteSize(), ref.bytes());
                    assertArrayEquals(image.toArray(ValueLayout.JAVA_BYTE), dev.read(0, (int) image.byteSize()), "the reference copy keeps the image");
                }
                assertEquals("1 contexts", api.live());
            }
            assertEquals("", api.live());
        }
    }

    @Test
    void everyFailingCallLeavesNothingBehind() throws Exception {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment image = random(a, 3 << 20);
            // Count the calls of a good upload, then fail each one in turn.
            FakeCuApi counting = new FakeCuApi();
            int total;
            try (CudaDriver cu = CudaDriver.open(counting, 0, INFO)) {
                counting.failAt(-1);
                try (DeviceImage dev = DeviceImage.upload(cu, image, "test", 1 << 20)) {
                    total = counting.calls();
                }
            }
            assertTrue(total > 10, "an upload makes many calls: " + total);
            for (int n = 1; n <= total; n++) {
                FakeCuApi api = new FakeCuApi();
                try (CudaDriver cu = CudaDriver.open(api, 0, INFO)) {
                    api.failAt(n);
                    CudaException e = assertThrows(CudaException.class, () -> DeviceImage.upload(cu, image, "test", 1 << 20),
                            "call " + n + " of " + total + " failed, so must the upload");
                    assertTrue(e.getMessage().contains("failed: CUDA_ERROR_"), e.getMessage());
                    assertEquals("1 contexts", api.live(), "after failing call " + n + ": " + e.getMessage());
                }
                assertEquals("", api.live());
            }
        }
    }

    @Test
    void attachMapsTheSameMemoryWithoutACopyAndReleasesItsOwnHandle() throws Exception {
        FakeCuApi api = new FakeCuApi();
        try (Arena a = Arena.ofConfined(); CudaDriver cu = CudaDriver.open(api, 0, INFO)) {
            MemorySegment image = random(a, 1 << 20);
            try (DeviceImage owner = DeviceImage.upload(cu, image, "test", 1 << 20);
                 NativeFd fd = owner.exportFd()) {
                int copies = api.asyncCopies;
                try (DeviceImage other = DeviceImage.attach(cu, fd, owner.allocationSize(), owner.imageSize())) {
                    assertEquals(copies, api.asyncCopies, "attach copies nothing");
                    assertNotEquals(owner.base(), other.base(), "a second mapping of the same memory");
                    assertArrayEquals(owner.read(0, 4096), other.read(0, 4096));
                    assertTrue(other.isAttached());
                    assertNull(other.uploadStats());
                }
                assertThrows(IllegalArgumentException.class, () -> DeviceImage.attach(cu, fd, owner.allocationSize() - 1, 10));
                api.failAt(5); // fail after import + reserve + map: the mapping step order is walked back
                assertThrows(CudaException.class, () -> DeviceImage.attach(cu, fd, owner.allocationSize(), owner.imageSize()));
            }
            assertEquals("1 contexts", api.live());
        }
    }

    @Test
    void theDmaBufRefusalIsReportedNotThrown(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        FakeCuApi api = new FakeCuApi();
        try (Arena a = Arena.ofConfined(); CudaDriver cu = CudaDriver.open(api, 0, INFO);
             DeviceImage dev = DeviceImage.upload(cu, random(a, 8192), "test", 1 << 20)) {
            DeviceImage.MountAttempt m = dev.tryMountDaxfs(dir);
            assertFalse(m.mounted());
            assertTrue(m.report().contains("CUDA_ERROR_NOT_SUPPORTED") && m.report().contains("open kernel modules"), m.report());
        }
    }

    @Test
    void shareHeaderRoundTripsAndRejectsStrangers() {
        ShareHeader h = new ShareHeader(4L << 20, 3_000_000, 1, 4242);
        assertEquals(h, ShareHeader.decode(h.encode()));
        assertEquals(ShareHeader.SIZE, h.encode().length);
        byte[] bad = h.encode();
        bad[0] = 'X';
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ShareHeader.decode(bad)).getMessage().contains("not a daxload GPU share"));
        assertThrows(IllegalArgumentException.class, () -> ShareHeader.decode(new byte[5]));
        assertThrows(IllegalArgumentException.class, () -> ShareHeader.decode(new ShareHeader(10, 20, 0, 1).encode()));
    }

    @Test
    void cudaTensorSpecsArePointerPlusOffsetWithContiguousStrides() {
        TorchCuda.Spec s = TorchCuda.spec(0x7f0000000000L, 1 << 20, 2, 8192, 2 * 3 * 4 * 2, new long[] {2, 3, 4}, "BF16");
        assertEquals(0x7f0000000000L + 8192, s.dataPointer());
        assertArrayEquals(new long[] {12, 4, 1}, s.strides());
        assertEquals(15, s.scalarType());
        assertEquals(TorchCuda.DEVICE_TYPE_CUDA, s.deviceType());
        assertEquals(2, s.deviceIndex());
        assertThrows(IllegalArgumentException.class, () -> TorchCuda.spec(0, 1 << 20, 0, 0, 10, new long[] {3}, "F32"));
        assertThrows(IndexOutOfBoundsException.class, () -> TorchCuda.spec(0, 4096, 0, 4096, 4, new long[] {1}, "F32"));
        assertThrows(IllegalArgumentException.class, () -> TorchCuda.spec(0, 4096, 0, 2, 4, new long[] {1}, "F32"));
        assertThrows(IllegalArgumentException.class, () -> TorchCuda.spec(0, 4096, 0, 0, 18, new long[] {1}, "Q4_0"));
    }

    @Test
    void aCpuOnlyTorchSaysWhatToInstall() {
        assertNull(TorchCuda.problem(true, true, 1, true));
        String cpu = TorchCuda.problem(true, true, 0, false);
        assertTrue(cpu.contains("CPU-only") && cpu.contains("libtorch 2.7.1") && cpu.contains("PYTORCH_LIBRARY_PATH"), cpu);
        assertTrue(TorchCuda.problem(false, false, 0, false).contains("pytorch-engine:0.36.0"));
        assertTrue(TorchCuda.problem(true, true, 0, true).contains("sees no GPU"));
        // The real check in this JVM: DJL is not on the bridge's test class path, and it says so.
        Optional<String> here = TorchCuda.engineProblem();
        assertTrue(here.isPresent() && here.get().contains("PYTORCH_LIBRARY_PATH"), here.toString());
    }

    private static MemorySegment random(Arena a, long size) {
        MemorySegment s = a.allocate(size);
        byte[] b = new byte[(int) size];
        new Random(size).nextBytes(b);
        s.copyFrom(MemorySegment.ofArray(b));
        return s;
    }

    @Test
    void severalStagingWorkersCopyEveryPieceOnceAndReleaseTheirBuffers() throws Exception {
        FakeCuApi api = new FakeCuApi();
        try (Arena a = Arena.ofShared(); CudaDriver cu = CudaDriver.open(api, 0, INFO)) {
            MemorySegment image = random(a, (13 << 20) + 4321);
            try (DeviceImage dev = DeviceImage.upload(cu, image, "test", new DeviceImage.Staged(1 << 20, 3))) {
                assertEquals(14, dev.uploadStats().chunks());
                assertEquals(14, api.asyncCopies, "each piece once");
                assertEquals(1, api.maxInFlightPerStream, "a buffer is reused only after its stream drained");
                assertEquals("staged 1 MiB x 3 threads", dev.uploadStats().method());
                assertArrayEquals(image.toArray(ValueLayout.JAVA_BYTE), dev.read(0, (int) image.byteSize()));
                assertEquals("handles reservations mappings", api.live().replaceAll("\\d+ ", "").replace(" contexts", ""),
                        "every worker's pinned buffers and streams are gone");
                // A copy into the same allocation again (what the benchmark does) gives the same bytes.
                MemorySegment other = random(a, image.byteSize());
                dev.copyFrom(other, new DeviceImage.Staged(1 << 20, 4));
                assertArrayEquals(other.toArray(ValueLayout.JAVA_BYTE), dev.read(0, (int) other.byteSize()));
                assertThrows(IllegalArgumentException.class, () -> dev.copyFrom(a.allocate(10), new DeviceImage.Staged(1 << 20, 2)));
            }
            assertEquals("1 contexts", api.live());
        }
    }

    @Test
    void aFailingWorkerStopsTheOthersAndNothingIsLeft() throws Exception {
        try (Arena a = Arena.ofShared()) {
            MemorySegment image = random(a, 9 << 20);
            FakeCuApi counting = new FakeCuApi();
            int total;
            try (CudaDriver cu = CudaDriver.open(counting, 0, INFO)) {
                counting.failAt(-1);
                try (DeviceImage dev = DeviceImage.upload(cu, image, "test", new DeviceImage.Staged(1 << 20, 3))) {
                    total = counting.calls();
                }
            }
            for (int n = 1; n <= total; n++) {
                FakeCuApi api = new FakeCuApi();
                try (CudaDriver cu = CudaDriver.open(api, 0, INFO)) {
                    api.failAt(n);
                    try (DeviceImage dev = DeviceImage.upload(cu, image, "test", new DeviceImage.Staged(1 << 20, 3))) {
                        // the n-th call may have been one whose failure is only reported, never thrown (none here)
                        fail("call " + n + " of " + total + " failed, so must the upload");
                    } catch (CudaException expected) {
                        // what the test wants
                    }
                }
                assertEquals("", api.live(), "after failing call " + n);
            }
        }
    }

    @Test
    void aRegisteredUploadPinsTheSourceInPlaceAndUnpinsIt() throws Exception {
        FakeCuApi api = new FakeCuApi();
        try (Arena a = Arena.ofShared(); CudaDriver cu = CudaDriver.open(api, 0, INFO)) {
            MemorySegment image = random(a, (3 << 20) + 17);
            try (DeviceImage dev = DeviceImage.upload(cu, image, "test", new DeviceImage.Registered(true))) {
                assertEquals(0, api.asyncCopies, "no staging");
                assertEquals("registered read-only", dev.uploadStats().method());
                assertArrayEquals(image.toArray(ValueLayout.JAVA_BYTE), dev.read(0, (int) image.byteSize()));
                assertFalse(api.live().contains("registrations"), api.live());
            }
            FakeCuApi fresh = new FakeCuApi();
            try (CudaDriver cu2 = CudaDriver.open(fresh, 0, INFO)) {
                DeviceImage dev = DeviceImage.allocate(cu2, image.byteSize(), "test");
                fresh.failAt(2); // 1: cuCtxSetCurrent, 2: cuMemHostRegister
                CudaException e = assertThrows(CudaException.class, () -> dev.copyFrom(image, new DeviceImage.Registered(false)));
                assertTrue(e.getMessage().contains("cuMemHostRegister"), e.getMessage());
                dev.close();
                assertEquals("1 contexts", fresh.live());
            }
        }
    }

    @Test
    void memoryInfoCountsDeviceAllocations() throws Exception {
        FakeCuApi api = new FakeCuApi();
        try (Arena a = Arena.ofShared(); CudaDriver cu = CudaDriver.open(api, 0, INFO)) {
            CudaDriver.MemoryInfo before = cu.memoryInfo();
            try (DeviceImage dev = DeviceImage.upload(cu, random(a, 3 << 20), "test", 1 << 20)) {
                assertEquals(dev.allocationSize(), cu.memoryInfo().used() - before.used());
            }
            assertEquals(before, cu.memoryInfo());
        }
    }

    @Test
    void stagedWorkersReadAFileStraightIntoThePinnedBuffers(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        FakeCuApi api = new FakeCuApi();
        try (Arena a = Arena.ofShared(); CudaDriver cu = CudaDriver.open(api, 0, INFO)) {
            MemorySegment image = random(a, (7 << 20) + 99);
            java.nio.file.Path file = dir.resolve("image.daxfs");
            java.nio.file.Files.write(file, image.toArray(ValueLayout.JAVA_BYTE));
            try (DeviceImage dev = DeviceImage.upload(cu, file, new DeviceImage.Staged(1 << 20, 3))) {
                assertEquals(8, api.asyncCopies, "each piece once");
                assertArrayEquals(image.toArray(ValueLayout.JAVA_BYTE), dev.read(0, (int) image.byteSize()));
                try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file)) {
                    dev.copyFrom(ch, new DeviceImage.Registered(true));
                }
                assertArrayEquals(image.toArray(ValueLayout.JAVA_BYTE), dev.read(0, (int) image.byteSize()));
            }
            java.nio.file.Path shorter = dir.resolve("short.daxfs");
            java.nio.file.Files.write(shorter, new byte[1000]);
            try (DeviceImage dev = DeviceImage.allocate(cu, 4096, "test");
                 java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(shorter)) {
                java.io.IOException e = assertThrows(java.io.IOException.class, () -> dev.copyFrom(ch, new DeviceImage.Staged(1 << 20, 2)));
                assertTrue(e.getMessage().contains("1000"), e.getMessage());
            }
            assertEquals("1 contexts", api.live());
        }
    }

    @Test
    void registeredPiecesArePinnedCopiedAndUnpinnedBySeveralWorkers() throws Exception {
        try (Arena a = Arena.ofShared()) {
            MemorySegment image = random(a, (11 << 20) + 5);
            FakeCuApi api = new FakeCuApi();
            int total;
            try (CudaDriver cu = CudaDriver.open(api, 0, INFO);
                 DeviceImage dev = DeviceImage.upload(cu, image, "test", new DeviceImage.Registered(true, 1 << 20, 3))) {
                assertEquals(12, api.asyncCopies, "each piece once, from its own pinned pages");
                assertEquals("registered read-only 1 MiB x 3 threads", dev.uploadStats().method());
                assertArrayEquals(image.toArray(ValueLayout.JAVA_BYTE), dev.read(0, (int) image.byteSize()));
                assertFalse(api.live().contains("registrations") || api.live().contains("streams"), api.live());
                total = api.calls();
            }
            for (int n = 2; n <= total; n += 3) {
                FakeCuApi failing = new FakeCuApi();
                try (CudaDriver cu = CudaDriver.open(failing, 0, INFO); DeviceImage dev = DeviceImage.allocate(cu, image.byteSize(), "test")) {
                    failing.failAt(n);
                    try {
                        dev.copyFrom(image, new DeviceImage.Registered(true, 1 << 20, 3));
                    } catch (CudaException expected) {
                        // most calls fail the copy; a failing cuStreamDestroy is only reported
                    }
                    assertFalse(failing.live().contains("registrations") || failing.live().contains("streams"),
                            "after failing call " + n + ": " + failing.live());
                }
            }
        }
    }
}
