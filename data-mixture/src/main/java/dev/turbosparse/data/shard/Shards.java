package dev.turbosparse.data.shard;

import dev.turbosparse.data.DataException;
import dev.turbosparse.data.fs.Fs;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.nio.channels.Channels;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.ipc.message.ArrowBlock;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.arrow.vector.util.ByteArrayReadableSeekableByteChannel;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Shards of packed sequences: Arrow IPC files with one column, {@code input_ids}, a FixedSizeList of
 * {@code seq_len + 1} int32 token ids per row. The schema's metadata names the format, the sequence length and the
 * tokenizer's sha256, so that a shard read by itself still says what it was made with.
 */
public final class Shards {

    public static final String COLUMN = "input_ids";
    public static final String FORMAT = "turbosparse.packed/1";
    static final String META_FORMAT = "turbosparse.format";
    static final String META_SEQ_LEN = "turbosparse.seq_len";
    static final String META_TOKENIZER = "turbosparse.tokenizer_sha256";
    /** Rows per Arrow record batch. */
    static final int ROWS_PER_BATCH = 1024;
    /** The largest shard file a reader accepts: shards are written around 64 MiB. */
    static final long MAX_SHARD_BYTES = 1L << 30;

    private Shards() {}

    /** A written shard: file name, rows, size and sha256. */
    public record Written(String file, long sequences, long bytes, String sha256) {}

    /**
     * Writes {@code rows} sequences of {@code seqLen + 1} tokens from {@code tokens} as an Arrow IPC file,
     * atomically. The bytes depend only on the inputs.
     */
    public static Written write(FileSystem fs, Path path, int[] tokens, int rows, int seqLen, String tokenizerSha)
            throws IOException {
        byte[] bytes = encode(tokens, rows, seqLen, tokenizerSha);
        Fs.writeAtomically(fs, path, out -> out.write(bytes));
        return new Written(path.getName(), rows, bytes.length, sha256(bytes));
    }

    static Schema schema(int seqLen, String tokenizerSha) {
        Field token = new Field("token", FieldType.notNullable(new ArrowType.Int(32, true)), null);
        Field ids = new Field(COLUMN, FieldType.notNullable(new ArrowType.FixedSizeList(seqLen + 1)), List.of(token));
        return new Schema(List.of(ids), Map.of(META_FORMAT, FORMAT, META_SEQ_LEN, Integer.toString(seqLen),
                META_TOKENIZER, tokenizerSha));
    }

    static byte[] encode(int[] tokens, int rows, int seqLen, String tokenizerSha) throws IOException {
        int width = seqLen + 1;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(rows * width * 4 + 4096);
        try (BufferAllocator alloc = new RootAllocator();
                VectorSchemaRoot root = VectorSchemaRoot.create(schema(seqLen, tokenizerSha), alloc);
                ArrowFileWriter writer = new ArrowFileWriter(root, null, Channels.newChannel(bytes))) {
            writer.start();
            FixedSizeListVector list = (FixedSizeListVector) root.getVector(COLUMN);
            for (int start = 0; start < rows; start += ROWS_PER_BATCH) {
                int n = Math.min(ROWS_PER_BATCH, rows - start);
                list.clear();
                list.setInitialCapacity(n);
                list.allocateNew();
                IntVector data = (IntVector) list.getDataVector();
                data.allocateNew(n * width);
                for (int r = 0; r < n; r++) {
                    list.setNotNull(r);
                }
                data.getDataBuffer().nioBuffer(0, n * width * 4).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer()
                        .put(tokens, start * width, n * width);
                for (int i = 0; i < n * width; i++) {
                    data.setIndexDefined(i);
                }
                data.setValueCount(n * width);
                list.setValueCount(n);
                root.setRowCount(n);
                writer.writeBatch();
            }
            writer.end();
        }
        return bytes.toByteArray();
    }

    /**
     * Reads a shard whole, verifying first its sha256 and then its schema (format, sequence length, tokenizer).
     *
     * @return the tokens, row-major: row r is {@code [r * (seqLen + 1), (r + 1) * (seqLen + 1))}
     */
    public static int[] read(FileSystem fs, Path path, String expectedSha, long expectedRows, int seqLen,
            String tokenizerSha) {
        byte[] bytes = Fs.readAll(fs, path, MAX_SHARD_BYTES);
        String sha = sha256(bytes);
        if (!sha.equals(expectedSha)) {
            throw new DataException(path + ": checksum mismatch (sha256 " + sha + ", the manifest says " + expectedSha
                    + "); the shard was changed or damaged after preparation: prepare the source again");
        }
        return decode(path, bytes, expectedRows, seqLen, tokenizerSha);
    }

    static int[] decode(Path path, byte[] bytes, long expectedRows, int seqLen, String tokenizerSha) {
        int width = seqLen + 1;
        try (BufferAllocator alloc = new RootAllocator();
                ArrowFileReader reader = new ArrowFileReader(new ByteArrayReadableSeekableByteChannel(bytes), alloc)) {
            Map<String, String> meta = reader.getVectorSchemaRoot().getSchema().getCustomMetadata();
            if (!FORMAT.equals(meta.get(META_FORMAT))) {
                throw new DataException(path + ": not a turbosparse shard (format " + meta.get(META_FORMAT) + ")");
            }
            if (!Integer.toString(seqLen).equals(meta.get(META_SEQ_LEN))) {
                throw new DataException(path + ": made with seq_len " + meta.get(META_SEQ_LEN) + ", expected " + seqLen);
            }
            if (!tokenizerSha.equals(meta.get(META_TOKENIZER))) {
                throw new DataException(path + ": made with tokenizer " + meta.get(META_TOKENIZER)
                        + ", expected " + tokenizerSha);
            }
            if ((long) width * expectedRows > Integer.MAX_VALUE) {
                throw new DataException(path + ": " + expectedRows + " rows are too many for one shard");
            }
            int[] tokens = new int[Math.toIntExact(width * expectedRows)];
            int row = 0;
            for (ArrowBlock block : reader.getRecordBlocks()) {
                reader.loadRecordBatch(block);
                VectorSchemaRoot root = reader.getVectorSchemaRoot();
                int n = root.getRowCount();
                if (row + n > expectedRows) {
                    throw new DataException(path + ": more rows than the " + expectedRows + " the manifest says");
                }
                FixedSizeListVector list = (FixedSizeListVector) root.getVector(COLUMN);
                IntBuffer ints = list.getDataVector().getDataBuffer().nioBuffer(0, n * width * 4)
                        .order(ByteOrder.LITTLE_ENDIAN).asIntBuffer();
                ints.get(tokens, row * width, n * width);
                row += n;
            }
            if (row != expectedRows) {
                throw new DataException(path + ": " + row + " rows, the manifest says " + expectedRows);
            }
            return tokens;
        } catch (IOException | RuntimeException e) {
            if (e instanceof DataException d) {
                throw d;
            }
            throw new DataException(path + ": not a readable Arrow IPC file: " + e.getMessage(), e);
        }
    }

    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
