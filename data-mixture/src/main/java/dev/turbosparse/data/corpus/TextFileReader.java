package dev.turbosparse.data.corpus;

import java.io.IOException;
import java.io.InputStream;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Plain text and source files: one file, one document. A file that is binary (a NUL byte in its first 8 KiB), not
 * valid UTF-8, empty, or larger than {@value #MAX_FILE_BYTES} bytes is skipped with its reason.
 */
final class TextFileReader implements CorpusReader {

    static final int MAX_FILE_BYTES = 64 << 20;

    @Override
    public void read(FileSystem fs, Configuration conf, Path file, DocumentSink sink) throws IOException {
        long size = fs.getFileStatus(file).getLen();
        if (size > MAX_FILE_BYTES) {
            sink.skip(0, "file larger than " + (MAX_FILE_BYTES >> 20) + " MiB");
            return;
        }
        byte[] bytes;
        try (InputStream in = Compression.decompress(file.getName(), fs.open(file))) {
            bytes = in.readNBytes(MAX_FILE_BYTES + 1);
        }
        if (bytes.length > MAX_FILE_BYTES) {
            sink.skip(0, "file larger than " + (MAX_FILE_BYTES >> 20) + " MiB");
            return;
        }
        for (int i = 0; i < Math.min(bytes.length, 8192); i++) {
            if (bytes[i] == 0) {
                sink.skip(0, "binary file");
                return;
            }
        }
        String text = Utf8.decode(bytes, 0, bytes.length);
        if (text == null) {
            sink.skip(0, "not valid UTF-8");
        } else if (text.isBlank()) {
            sink.skip(0, "empty file");
        } else {
            sink.document(text, 0);
        }
    }
}
