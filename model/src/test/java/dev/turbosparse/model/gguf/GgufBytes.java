package dev.turbosparse.model.gguf;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Test helper: GGUF bytes built field by field, so that each field can be made wrong on purpose. */
final class GgufBytes {

    private final ByteArrayOutputStream kv = new ByteArrayOutputStream();
    private final ByteArrayOutputStream infos = new ByteArrayOutputStream();
    private final ByteArrayOutputStream data = new ByteArrayOutputStream();
    private byte[] magic = "GGUF".getBytes(StandardCharsets.US_ASCII);
    private int version = 3;
    private long kvCount;
    private long tensorCount;
    private Long tensorCountOverride;

    GgufBytes magic(String m) {
        magic = m.getBytes(StandardCharsets.US_ASCII);
        return this;
    }

    GgufBytes version(int v) {
        version = v;
        return this;
    }

    GgufBytes tensorCount(long n) {
        tensorCountOverride = n;
        return this;
    }

    GgufBytes string(String key, String value) {
        str(kv, key);
        u32(kv, 8);
        str(kv, value);
        kvCount++;
        return this;
    }

    GgufBytes u32(String key, int value) {
        str(kv, key);
        u32(kv, 4);
        u32(kv, value);
        kvCount++;
        return this;
    }

    /** A uint8 array of {@code n} copies of a byte. */
    GgufBytes u8Array(String key, int n, byte value) {
        str(kv, key);
        u32(kv, 9);
        u32(kv, 0);
        u64(kv, n);
        for (int i = 0; i < n; i++) {
            kv.write(value);
        }
        kvCount++;
        return this;
    }

    /** A tensor info; {@code data} is appended at {@code offset} (padded with zeros up to it). */
    GgufBytes tensor(String name, long[] dims, int type, long offset, byte[] bytes) {
        info(name, dims, type, offset);
        while (data.size() < offset) {
            data.write(0);
        }
        data.writeBytes(bytes);
        return this;
    }

    /** A tensor info alone: its data is not written (to point beyond the file). */
    GgufBytes info(String name, long[] dims, int type, long offset) {
        str(infos, name);
        u32(infos, dims.length);
        for (long d : dims) {
            u64(infos, d);
        }
        u32(infos, type);
        u64(infos, offset);
        tensorCount++;
        return this;
    }

    byte[] build() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(magic);
        u32(out, version);
        u64(out, tensorCountOverride != null ? tensorCountOverride : tensorCount);
        u64(out, kvCount);
        out.writeBytes(kv.toByteArray());
        out.writeBytes(infos.toByteArray());
        while (out.size() % 32 != 0) {
            out.write(0);
        }
        out.writeBytes(data.toByteArray());
        return out.toByteArray();
    }

    static void u32(ByteArrayOutputStream o, int v) {
        o.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array());
    }

    static void u64(ByteArrayOutputStream o, long v) {
        o.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array());
    }

    static void str(ByteArrayOutputStream o, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        u64(o, b.length);
        o.writeBytes(b);
    }

    static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.array();
    }
}
