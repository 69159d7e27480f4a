package dev.daxload.registry;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/** Bytes of a blob to upload, read at any position (a chunk is read again when its request must be re-sent). */
interface BlobSource {
    long size();

    /** Reads into {@code dst} from {@code position}; -1 past the end. */
    int read(ByteBuffer dst, long position) throws IOException;

    static BlobSource of(FileChannel file, long size) {
        return new BlobSource() {
            @Override
            public long size() {
                return size;
            }

            @Override
            public int read(ByteBuffer dst, long position) throws IOException {
                return file.read(dst, position);
            }
        };
    }
}
