package dev.turbosparse.data.prepare;

import com.fasterxml.jackson.core.JacksonException;

import dev.turbosparse.data.DataException;
import dev.turbosparse.data.fs.Fs;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A source's {@code _tokens/} folder between the passes: per input file a token file ({@code 000042.tok}) and its
 * {@link FileRecord} ({@code 000042.json}). Local preparation and the MapReduce mappers write it; the packing pass
 * (local, or a reducer) reads it.
 */
final class TokenDirectory {

    static final String NAME = "_tokens";

    private final FileSystem fs;
    private final Path dir;

    TokenDirectory(FileSystem fs, Path sourceDir) {
        this.fs = fs;
        this.dir = new Path(sourceDir, NAME);
    }

    Path path() {
        return dir;
    }

    private Path recordPath(int index) {
        return new Path(dir, String.format("%06d.json", index));
    }

    /** The record of an earlier run for this input file, if its input is unchanged and its token file verifies. */
    FileRecord reusable(SourcePlan plan, FileStatus file, int index, String tokenSettings) {
        Path recordPath = recordPath(index);
        if (!Fs.exists(fs, recordPath)) {
            return null;
        }
        FileRecord r;
        try {
            r = Manifest.MAPPER.readValue(Fs.readAll(fs, recordPath, 256L << 20), FileRecord.class);
        } catch (JacksonException | DataException e) {
            return null;
        } catch (IOException e) {
            return null;
        }
        boolean same = r.index() == index && r.file().equals(plan.relative(file)) && r.bytes() == file.getLen()
                && r.modified() == file.getModificationTime() && r.settings().equals(tokenSettings);
        return same && verify(fs, new Path(dir, r.tokenFile()), -1, r.sha256()) ? r : null;
    }

    void write(FileRecord r) throws IOException {
        byte[] json = Manifest.MAPPER.writeValueAsString(r).getBytes(StandardCharsets.UTF_8);
        Fs.writeAtomically(fs, recordPath(r.index()), o -> o.write(json));
    }

    /** The records of all of a source's files, in input order; every one must be there. */
    List<FileRecord> readAll(SourcePlan plan) {
        List<FileRecord> out = new ArrayList<>();
        for (int i = 0; i < plan.files().size(); i++) {
            Path p = recordPath(i);
            if (!Fs.exists(fs, p)) {
                throw new DataException("source '" + plan.name() + "': " + p + " is missing: file " + i + " ("
                        + plan.relative(plan.files().get(i)) + ") was not tokenized");
            }
            try {
                out.add(Manifest.MAPPER.readValue(Fs.readAll(fs, p, 256L << 20), FileRecord.class));
            } catch (IOException e) {
                throw new DataException(p + ": unreadable record: " + e.getMessage());
            }
        }
        return out;
    }

    void delete() {
        Fs.deleteRecursively(fs, dir);
    }

    /** Whether a file exists with the given size (when not negative) and sha256. */
    static boolean verify(FileSystem fs, Path file, long bytes, String sha256) {
        try {
            if (!fs.exists(file) || (bytes >= 0 && fs.getFileStatus(file).getLen() != bytes)) {
                return false;
            }
            MessageDigest md = TokenizePass.sha256();
            try (InputStream in = new DigestInputStream(fs.open(file), md)) {
                in.transferTo(java.io.OutputStream.nullOutputStream());
            }
            return HexFormat.of().formatHex(md.digest()).equals(sha256);
        } catch (IOException e) {
            return false;
        }
    }
}
