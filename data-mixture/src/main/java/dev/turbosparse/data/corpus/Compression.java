package dev.turbosparse.data.corpus;

import com.github.luben.zstd.ZstdInputStream;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.GZIPInputStream;

/** Streams of compressed corpus files, chosen by name: {@code .gz} (gzip) and {@code .zst} (Zstandard). */
final class Compression {

    private static final int BUFFER = 1 << 16;

    private Compression() {}

    static InputStream decompress(String name, InputStream raw) throws IOException {
        if (name.endsWith(".gz")) {
            return new BufferedInputStream(new GZIPInputStream(raw, BUFFER), BUFFER);
        }
        if (name.endsWith(".zst") || name.endsWith(".zstd")) {
            return new BufferedInputStream(new ZstdInputStream(raw), BUFFER);
        }
        return new BufferedInputStream(raw, BUFFER);
    }

    static String stripSuffix(String name) {
        for (String s : new String[] {".gz", ".zst", ".zstd"}) {
            if (name.endsWith(s)) {
                return name.substring(0, name.length() - s.length());
            }
        }
        return name;
    }
}
