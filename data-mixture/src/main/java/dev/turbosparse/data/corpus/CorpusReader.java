package dev.turbosparse.data.corpus;

import java.io.IOException;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/** Reads the documents of one corpus file, in order. */
public interface CorpusReader {

    /**
     * @throws IOException when the file cannot be read at all (a record that cannot be used is a skip, not an error)
     */
    void read(FileSystem fs, Configuration conf, Path file, DocumentSink sink) throws IOException;
}
