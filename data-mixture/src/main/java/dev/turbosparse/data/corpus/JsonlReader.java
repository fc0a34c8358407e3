package dev.turbosparse.data.corpus;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.JacksonException;

import java.io.IOException;
import java.io.InputStream;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * JSON Lines: one JSON object per line, the document in a string field. A line that is not valid UTF-8, not JSON,
 * not an object, or has no non-empty string in the field is skipped with its line number and reason. Blank lines
 * are not records.
 */
final class JsonlReader implements CorpusReader {

    /** A line longer than this is skipped without being held in memory whole. */
    static final int MAX_LINE_BYTES = 256 << 20;

    private static final JsonFactory JSON = JsonFactory.builder().build();

    private final String field;

    JsonlReader(String field) {
        this.field = field;
    }

    @Override
    public void read(FileSystem fs, Configuration conf, Path file, DocumentSink sink) throws IOException {
        try (InputStream in = Compression.decompress(file.getName(), fs.open(file))) {
            LineReader lines = new LineReader(in, MAX_LINE_BYTES);
            long number = 0;
            while (lines.next()) {
                number++;
                if (lines.tooLong()) {
                    sink.skip(number, "line longer than " + (MAX_LINE_BYTES >> 20) + " MiB");
                    continue;
                }
                if (lines.isBlank()) {
                    continue;
                }
                String line = Utf8.decode(lines.bytes(), 0, lines.length());
                if (line == null) {
                    sink.skip(number, "not valid UTF-8");
                    continue;
                }
                record(line, number, sink);
            }
        }
    }

    private void record(String line, long number, DocumentSink sink) {
        try (JsonParser p = JSON.createParser(line)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                sink.skip(number, "not a JSON object");
                return;
            }
            String text = null;
            boolean found = false;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken value = p.nextToken();
                if (name.equals(field) && !found) {
                    found = true;
                    if (value != JsonToken.VALUE_STRING) {
                        p.skipChildren();
                        sink.skip(number, "field '" + field + "' is not a string");
                        return;
                    }
                    text = p.getText();
                } else {
                    p.skipChildren();
                }
            }
            if (p.currentToken() != JsonToken.END_OBJECT || p.nextToken() != null) {
                sink.skip(number, "malformed JSON: more than one value on the line");
                return;
            }
            if (!found) {
                sink.skip(number, "no field '" + field + "'");
            } else if (text.isEmpty()) {
                sink.skip(number, "empty text");
            } else {
                sink.document(text, number);
            }
        } catch (JacksonException e) {
            String msg = e.getOriginalMessage();
            int nl = msg == null ? -1 : msg.indexOf('\n');
            sink.skip(number, "malformed JSON: " + (nl < 0 ? msg : msg.substring(0, nl)));
        } catch (IOException e) {
            sink.skip(number, "malformed JSON: " + e.getMessage());
        }
    }

    /** Lines of a byte stream, '\n'-terminated ('\r\n' too), scanned a chunk at a time into a reused buffer. */
    static final class LineReader {
        private final InputStream in;
        private final int max;
        private final byte[] chunk = new byte[1 << 16];
        private int pos;
        private int limit;
        private boolean eof;
        private byte[] buf = new byte[1 << 16];
        private int len;
        private boolean tooLong;

        LineReader(InputStream in, int max) {
            this.in = in;
            this.max = max;
        }

        /** Reads the next line; false at the end of the stream. */
        boolean next() throws IOException {
            len = 0;
            tooLong = false;
            boolean any = false;
            while (true) {
                if (pos == limit) {
                    if (eof) {
                        return any;
                    }
                    limit = in.read(chunk);
                    pos = 0;
                    if (limit <= 0) {
                        limit = 0;
                        eof = true;
                        return any;
                    }
                }
                any = true;
                int end = pos;
                while (end < limit && chunk[end] != '\n') {
                    end++;
                }
                append(pos, end - pos);
                if (end < limit) { // found the newline
                    pos = end + 1;
                    if (len > 0 && buf[len - 1] == '\r') {
                        len--;
                    }
                    return true;
                }
                pos = limit;
            }
        }

        private void append(int from, int n) {
            int room = max - len;
            if (n > room) {
                tooLong = true;
                n = room;
            }
            if (len + n > buf.length) {
                buf = java.util.Arrays.copyOf(buf, (int) Math.min(Math.max((long) buf.length * 2, len + n), max));
            }
            System.arraycopy(chunk, from, buf, len, n);
            len += n;
        }

        byte[] bytes() {
            return buf;
        }

        int length() {
            return len;
        }

        boolean tooLong() {
            return tooLong;
        }

        boolean isBlank() {
            for (int i = 0; i < len; i++) {
                byte c = buf[i];
                if (c != ' ' && c != '\t' && c != '\r') {
                    return false;
                }
            }
            return true;
        }
    }
}
