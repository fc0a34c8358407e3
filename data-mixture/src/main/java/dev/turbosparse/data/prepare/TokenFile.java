package dev.turbosparse.data.prepare;

import dev.turbosparse.data.DataException;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The tokens of one corpus file between the two passes of preparation: each document's token ids (no BOS/EOS), in
 * file order. Two bytes per token when the vocabulary fits in 16 bits, else four; big-endian, as DataOutput writes.
 *
 * <pre>
 *   "TSTK" | u32 version = 1 | u32 width (2 or 4) | documents: (u32 count, count x width bytes)... | u32 0xFFFFFFFF
 * </pre>
 */
final class TokenFile {

    static final byte[] MAGIC = "TSTK".getBytes(StandardCharsets.US_ASCII);
    static final int VERSION = 1;
    static final int END = -1;

    private TokenFile() {}

    /** Bytes per token for a vocabulary. */
    static int width(int vocabSize) {
        return vocabSize <= 1 << 16 ? 2 : 4;
    }

    /** Writes documents one by one to a stream. */
    static final class Writer {
        private final DataOutputStream out;
        private final int width;

        Writer(OutputStream raw, int width) throws IOException {
            this.out = new DataOutputStream(new BufferedOutputStream(raw, 1 << 16));
            this.width = width;
            out.write(MAGIC);
            out.writeInt(VERSION);
            out.writeInt(width);
        }

        void document(long[] ids) throws IOException {
            out.writeInt(ids.length);
            for (long id : ids) {
                if (width == 2) {
                    out.writeShort((int) id);
                } else {
                    out.writeInt((int) id);
                }
            }
        }

        void finish() throws IOException {
            out.writeInt(END);
            out.flush();
        }
    }

    /** Reads the documents of a token file in order. */
    static final class Reader implements AutoCloseable {
        private final Path path;
        private final DataInputStream in;
        private final int width;
        private int[] buffer = new int[1 << 12];
        private byte[] raw = new byte[1 << 14];

        Reader(FileSystem fs, Path path) throws IOException {
            this.path = path;
            InputStream raw = fs.open(path);
            this.in = new DataInputStream(new BufferedInputStream(raw, 1 << 16));
            byte[] magic = in.readNBytes(4);
            if (!Arrays.equals(magic, MAGIC)) {
                throw new DataException(path + ": not a token file (bad magic)");
            }
            int version = in.readInt();
            if (version != VERSION) {
                throw new DataException(path + ": token file version " + version + ", expected " + VERSION);
            }
            width = in.readInt();
            if (width != 2 && width != 4) {
                throw new DataException(path + ": token width " + width + ", expected 2 or 4");
            }
        }

        /**
         * The next document's tokens in a reused buffer (valid until the next call), with its length in
         * {@link #length()}; null after the last document.
         */
        int[] next() throws IOException {
            int n;
            try {
                n = in.readInt();
            } catch (EOFException e) {
                throw new DataException(path + ": token file ends without its end marker (truncated)");
            }
            if (n == END) {
                length = 0;
                return null;
            }
            if (n < 0) {
                throw new DataException(path + ": negative document length " + n);
            }
            if (n > buffer.length) {
                buffer = new int[Math.max(n, buffer.length * 2)];
            }
            int bytes = Math.multiplyExact(n, width);
            if (bytes > raw.length) {
                raw = new byte[Math.max(bytes, raw.length * 2)];
            }
            try {
                in.readFully(raw, 0, bytes);
            } catch (EOFException e) {
                throw new DataException(path + ": token file ends inside a document (truncated)");
            }
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(raw, 0, bytes); // big-endian, as written
            if (width == 2) {
                java.nio.ShortBuffer s = b.asShortBuffer();
                for (int i = 0; i < n; i++) {
                    buffer[i] = s.get(i) & 0xFFFF;
                }
            } else {
                b.asIntBuffer().get(buffer, 0, n);
            }
            length = n;
            return buffer;
        }

        private int length;

        int length() {
            return length;
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }
}
