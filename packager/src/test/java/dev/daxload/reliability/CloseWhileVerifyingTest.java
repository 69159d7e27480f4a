package dev.daxload.reliability;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.image.DaxImage;
import dev.daxload.model.ModelWeights;
import dev.daxload.tensor.TensorView;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13.1: closing weights while checks run on other threads (the background check and eight
 * threads calling {@link TensorView#verify()}) unmaps the image exactly once, every time, and the
 * checks end with {@link IllegalStateException}/{@link CancellationException}, nothing else.
 */
class CloseWhileVerifyingTest {
    @TempDir Path tmp;

    @Test
    void hundredClosesUnderEightVerifyingThreadsLeaveNoMapping() throws Exception {
        Path image = ModelImages.write(tmp, "v.daxfs", 6, 4 << 20);
        ConcurrentLinkedQueue<Throwable> foreign = new ConcurrentLinkedQueue<>();
        for (int round = 0; round < 100; round++) {
            ModelWeights w = ModelWeights.open(image, ModelImages.MODEL);
            List<TensorView> views = List.copyOf(w.tensors().values());
            CompletableFuture<List<String>> background = w.verifyInBackground(new AtomicLong());
            CountDownLatch started = new CountDownLatch(8);
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                int first = i;
                threads.add(Thread.ofPlatform().start(() -> {
                    started.countDown();
                    for (int k = first; ; k++) {
                        try {
                            views.get(k % views.size()).verify();
                        } catch (IllegalStateException closed) {
                            return; // the image closed: the expected end
                        } catch (Throwable t) {
                            foreign.add(t);
                            return;
                        }
                    }
                }));
            }
            started.await();
            Thread.sleep(round % 4); // close at different points of the checks
            w.close();
            assertTrue(w.image().isUnmapped(), "round " + round + ": close returned with the image still mapped");
            assertEquals(List.of(), ModelImages.mappingsOf(image), "round " + round);
            for (Thread t : threads) {
                assertTrue(t.join(java.time.Duration.ofSeconds(5)), "a verifying thread did not stop");
            }
            try {
                assertEquals(List.of(), background.get(5, TimeUnit.SECONDS)); // finished before the close: all sound
            } catch (CancellationException stopped) { // get() wraps ours in its own: look down the chain
                Throwable t = stopped;
                while (t != null && (t.getMessage() == null || !t.getMessage().contains("stopped"))) {
                    t = t.getCause();
                }
                assertNotNull(t, () -> "the background check ended with " + stopped);
            }
            assertThrows(IllegalStateException.class, () -> views.get(0).verify());
        }
        assertTrue(foreign.isEmpty(), () -> "checks ended with " + foreign);
    }

    @Test
    void aPinOutlivesCloseAndTheLastReleaseUnmapsOnce() throws Exception {
        Path image = ModelImages.write(tmp, "p.daxfs", 1, 1 << 20);
        ModelWeights w = ModelWeights.open(image, ModelImages.MODEL);
        DaxImage img = w.image();
        AutoCloseable pin = img.pin();
        w.close();
        assertFalse(img.isUnmapped());
        assertEquals(1, ModelImages.mappingsOf(image).size());
        pin.close();
        pin.close();
        assertTrue(img.isUnmapped());
        assertEquals(List.of(), ModelImages.mappingsOf(image));
        w.close(); // again: nothing left to do
    }
}
