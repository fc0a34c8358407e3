package dev.turbosparse.data.corpus;

/** Receives the documents of a corpus file in order, and the records that had to be skipped. */
public interface DocumentSink {

    /**
     * @param text the document, valid UTF-8 decoded, not empty
     * @param line where it is: the line of a JSONL file, the row of a Parquet file (1-based), 0 for a whole file
     */
    void document(String text, long line);

    /** A record that is not a usable document, with the reason (counted and listed in the manifest). */
    void skip(long line, String reason);
}
