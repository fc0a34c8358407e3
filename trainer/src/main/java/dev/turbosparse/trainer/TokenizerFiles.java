package dev.turbosparse.trainer;

import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.model.HfCheckpoint;
import dev.turbosparse.model.io.AtomicFiles;
import dev.turbosparse.model.io.InputException;
import dev.turbosparse.model.tokenizer.Tokenizer;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The tokenizer files of the start model (tokenizer.json and the HF files beside it), held in memory so that every
 * checkpoint carries them, wherever the start model came from. Its sha256 is what prepared data must match.
 */
record TokenizerFiles(Map<String, byte[]> files, String sha256, String source) {

    /** Reads the tokenizer files of a folder, or of the folder of a tokenizer.json, on any file system. */
    static TokenizerFiles read(String uri, org.apache.hadoop.conf.Configuration conf) {
        Path p = Fs.path(uri);
        FileSystem fs = Fs.fs(p, conf);
        Path folder;
        try {
            folder = fs.getFileStatus(p).isDirectory() ? p : p.getParent();
        } catch (java.io.FileNotFoundException e) {
            throw new InputException(p + ": not found (give a tokenizer.json or a folder that holds one)");
        } catch (IOException e) {
            throw new InputException(p + ": cannot read: " + e.getMessage());
        }
        Path json = new Path(folder, Tokenizer.FILE_NAME);
        if (!Fs.exists(fs, json)) {
            throw new InputException(folder + ": has no " + Tokenizer.FILE_NAME + " (the trainer checks the data's"
                    + " tokenizer against it and saves it with every checkpoint)");
        }
        Map<String, byte[]> files = new LinkedHashMap<>();
        for (String name : HfCheckpoint.TOKENIZER_FILES) {
            Path f = new Path(folder, name);
            if (Fs.exists(fs, f)) {
                files.put(name, Fs.readAll(fs, f, 1L << 30));
            }
        }
        return new TokenizerFiles(files, Tokenizer.fingerprintOf(files.get(Tokenizer.FILE_NAME)), json.toString());
    }

    /** Writes the files into a local checkpoint folder, each atomically. */
    void writeTo(java.nio.file.Path folder) throws IOException {
        for (Map.Entry<String, byte[]> e : files.entrySet()) {
            AtomicFiles.write(folder.resolve(e.getKey()), e.getValue());
        }
    }
}
