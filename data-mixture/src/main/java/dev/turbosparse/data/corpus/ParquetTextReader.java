package dev.turbosparse.data.corpus;

import dev.turbosparse.data.DataException;

import java.io.IOException;
import java.util.stream.Collectors;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.api.ReadSupport;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType;
import org.apache.parquet.schema.Type;
import org.apache.parquet.schema.Types;

/**
 * Parquet files: the document in a top-level string (binary) column. Only that column is read. A file without the
 * column is an error; a null or empty value, or bytes that are not UTF-8, a skipped row.
 */
final class ParquetTextReader implements CorpusReader {

    private final String column;

    ParquetTextReader(String column) {
        this.column = column;
    }

    @Override
    public void read(FileSystem fs, Configuration conf, Path file, DocumentSink sink) throws IOException {
        MessageType schema;
        try (ParquetFileReader footer = ParquetFileReader.open(HadoopInputFile.fromPath(file, conf))) {
            schema = footer.getFooter().getFileMetaData().getSchema();
        } catch (RuntimeException e) {
            throw new DataException(file + ": not a readable Parquet file: " + e.getMessage());
        }
        if (!schema.containsField(column)) {
            throw new DataException(file + ": no column '" + column + "' (columns: " + schema.getFields().stream()
                    .map(Type::getName).collect(Collectors.joining(", ")) + ")");
        }
        Type type = schema.getType(column);
        if (!type.isPrimitive()
                || type.asPrimitiveType().getPrimitiveTypeName() != PrimitiveType.PrimitiveTypeName.BINARY) {
            throw new DataException(file + ": column '" + column + "' is " + type + ", not a string column");
        }
        Configuration projected = new Configuration(conf);
        MessageType only = Types.buildMessage().addField(type).named(schema.getName());
        projected.set(ReadSupport.PARQUET_READ_SCHEMA, only.toString());
        try (ParquetReader<Group> reader = ParquetReader.builder(new GroupReadSupport(), file).withConf(projected).build()) {
            long row = 0;
            for (Group g = reader.read(); g != null; g = reader.read()) {
                row++;
                if (g.getFieldRepetitionCount(column) == 0) {
                    sink.skip(row, "null " + column);
                    continue;
                }
                Binary value = g.getBinary(column, 0);
                byte[] bytes = value.getBytesUnsafe();
                String text = Utf8.decode(bytes, 0, bytes.length);
                if (text == null) {
                    sink.skip(row, "not valid UTF-8");
                } else if (text.isEmpty()) {
                    sink.skip(row, "empty text");
                } else {
                    sink.document(text, row);
                }
            }
        }
    }
}
