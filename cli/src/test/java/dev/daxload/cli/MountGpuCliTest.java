package dev.daxload.cli;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** mount, umount and gpu as a user drives them; the device paths skip where the devices are missing. */
class MountGpuCliTest {
    @TempDir Path tmp;
    Path image;
    Path mnt;

    static DaxloadCliTest.Run run(String... args) {
        return DaxloadCliTest.run(args);
    }

    @BeforeEach
    void pack() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("src"));
        Files.writeString(src.resolve("a.txt"), "alpha\n");
        image = tmp.resolve("img.daxfs");
        assertEquals(0, run("pack", src.toString(), "-o", image.toString(), "-q").code());
        mnt = Files.createDirectories(tmp.resolve("mnt"));
    }

    @Test
    void helpNamesTheWays() {
        DaxloadCliTest.Run r = run("mount", "--help");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("heap|udmabuf|phys=ADDR[,size=SIZE]") && r.out().contains("--validate"), r.out());
        assertEquals(0, run("umount", "--help").code());
        assertTrue(run("gpu", "load", "--help").out().contains("--share"));
    }

    @Test
    void aBadViaIsAUsageError() {
        for (String via : new String[] {"dram", "phys=zz", "phys=0", "phys=0x1000,sz=1"}) {
            DaxloadCliTest.Run r = run("mount", image.toString(), mnt.toString(), "--via", via);
            assertEquals(2, r.code(), via + ": " + r.err());
            assertTrue(r.err().contains("--via " + via), r.err());
        }
    }

    @Test
    void anUnsoundImageIsRefusedWithOneLine() throws Exception {
        byte[] bytes = Files.readAllBytes(image);
        bytes[4096] ^= 0x55;
        Path bad = Files.write(tmp.resolve("bad.daxfs"), bytes);
        for (String via : new String[] {"heap", "udmabuf", "phys=0x100000000"}) {
            DaxloadCliTest.Run r = run("mount", bad.toString(), mnt.toString(), "--via", via);
            assertEquals(1, r.code(), r.err());
            assertTrue(r.err().startsWith("daxload mount: ") && r.err().contains("unsound image"), r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
        }
    }

    @Test
    void aMissingDeviceOrFilesystemIsExplained() throws Exception {
        boolean heap = Files.exists(Path.of("/dev/dma_heap/system"));
        boolean daxfs = Files.readString(Path.of("/proc/filesystems")).contains("\tdaxfs\n");
        assumeTrue(!heap || !daxfs, "this machine could mount for real");
        DaxloadCliTest.Run r = run("mount", image.toString(), mnt.toString());
        assertEquals(1, r.code(), r.out());
        if (!daxfs) {
            // The missing filesystem is said first and alone, whichever memory was asked for.
            for (String via : new String[] {"heap", "udmabuf", "phys=0x100000000"}) {
                DaxloadCliTest.Run p = run("mount", image.toString(), mnt.toString(), "--via", via);
                assertEquals(1, p.code());
                assertTrue(p.err().startsWith("daxload mount: no daxfs filesystem in this kernel"), via + ": " + p.err());
                assertTrue(p.err().contains("modprobe daxfs"), p.err());
                assertEquals(1, p.err().strip().lines().count(), p.err());
            }
        } else {
            assertTrue(r.err().contains("CONFIG_DMABUF_HEAPS_SYSTEM"), r.err());
        }
    }

    @Test
    void mountAndUmountForReal() throws Exception {
        assumeTrue(Files.readString(Path.of("/proc/filesystems")).contains("\tdaxfs\n"),
                "no daxfs filesystem in this kernel (needs the out-of-tree daxfs module)");
        assumeTrue(Files.exists(Path.of("/dev/dma_heap/system")), "no /dev/dma_heap/system on this machine");
        DaxloadCliTest.Run r = run("mount", image.toString(), mnt.toString(), "--name", "cli-test");
        assertEquals(0, r.code(), r.err());
        assertEquals("alpha\n", Files.readString(mnt.resolve("a.txt")));
        assertEquals(0, run("umount", mnt.toString()).code());
        assertFalse(Files.exists(mnt.resolve("a.txt")));
    }

    @Test
    void umountRefusesADirectoryThatIsNoDaxfsMount() {
        DaxloadCliTest.Run r = run("umount", mnt.toString());
        assertEquals(1, r.code());
        assertEquals("daxload umount: " + mnt + ": not a mount point (nothing to unmount)", r.err().strip());
        DaxloadCliTest.Run p = run("umount", "/proc");
        assertEquals(1, p.code());
        assertTrue(p.err().contains("not a daxfs mount (it is proc)"), p.err());
    }

    @Test
    void gpuCommandsSayWhyThereIsNoGpu() {
        DaxloadCliTest.Run probe = run("gpu", "probe");
        assumeTrue(probe.code() != 0, "this machine has a working CUDA driver: " + probe.out());
        assertTrue(probe.err().startsWith("daxload gpu probe: "), probe.err());
        DaxloadCliTest.Run load = run("gpu", "load", image.toString(), "--share", tmp.resolve("sock").toString());
        assertEquals(1, load.code());
        assertTrue(load.err().startsWith("daxload gpu load: ") && load.err().contains(probe.err().substring("daxload gpu probe: ".length()).strip()), load.err());
        assertFalse(Files.exists(tmp.resolve("sock")), "no socket left behind");
        DaxloadCliTest.Run attach = run("gpu", "attach", tmp.resolve("sock").toString());
        assertEquals(1, attach.code());
        assertTrue(attach.err().contains("nobody listens at"), attach.err());
        assertEquals(2, run("gpu").code());
    }

    @Test
    void otherCommandsNeverLoadTheNativeBridge() throws Exception {
        // A fresh JVM, so that nothing else in this test run has loaded the bridge first.
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "-verbose:class", "-cp", System.getProperty("java.class.path"),
                "dev.daxload.cli.Daxload", "ls", image.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("a.txt"), out);
        assertTrue(out.contains("dev.daxload.cli.MountCommand"), "the check sees command classes load: " + out.length());
        assertFalse(out.contains("dev.daxload.bridge.linux.LinuxNative"), "ls loaded the bridge's JNI binding");
        assertFalse(out.contains("org.bytedeco"), "ls loaded JavaCPP");
    }
}
