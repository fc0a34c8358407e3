package dev.turbosparse.model.safetensors;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;

import dev.turbosparse.model.io.ModelFormatException;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The weights of a Hugging Face checkpoint folder: {@code model.safetensors}, or the shards that
 * {@code model.safetensors.index.json} lists. Every file is validated and mapped on open; tensors are looked up by
 * name across shards.
 */
public final class SafetensorsCheckpoint implements AutoCloseable {

    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    /** A tensor and the file that holds it. */
    public record Located(SafetensorsFile file, TensorInfo info) {}

    private final Path folder;
    private final List<SafetensorsFile> files;
    private final Map<String, Located> tensors;

    private SafetensorsCheckpoint(Path folder, List<SafetensorsFile> files, Map<String, Located> tensors) {
        this.folder = folder;
        this.files = files;
        this.tensors = tensors;
    }

    /** Whether a folder holds safetensors weights (one file or an index). */
    public static boolean isCheckpoint(Path folder) {
        return Files.isRegularFile(folder.resolve(INDEX_FILE)) || Files.isRegularFile(folder.resolve(SINGLE_FILE));
    }

    /**
     * Opens the weights of a checkpoint folder, preferring the index when both an index and a single file exist (as
     * transformers does).
     */
    public static SafetensorsCheckpoint open(Path folder) {
        Path index = folder.resolve(INDEX_FILE);
        if (Files.isRegularFile(index)) {
            return openSharded(folder, index);
        }
        Path single = folder.resolve(SINGLE_FILE);
        if (!Files.isRegularFile(single)) {
            throw new ModelFormatException(folder + ": no " + SINGLE_FILE + " or " + INDEX_FILE);
        }
        SafetensorsFile f = SafetensorsFile.open(single);
        Map<String, Located> tensors = new LinkedHashMap<>();
        f.tensors().values().forEach(t -> tensors.put(t.name(), new Located(f, t)));
        return new SafetensorsCheckpoint(folder, List.of(f), Collections.unmodifiableMap(tensors));
    }

    /** Index files larger than this are not an index (transformers' are a few hundred KB for a 70B model). */
    static final long MAX_INDEX_BYTES = 64L << 20;

    private static SafetensorsCheckpoint openSharded(Path folder, Path index) {
        JsonNode weightMap;
        try {
            if (Files.size(index) > MAX_INDEX_BYTES) {
                throw new ModelFormatException(index + ": " + Files.size(index) + " bytes, more than an index can be ("
                        + MAX_INDEX_BYTES + ")");
            }
            weightMap = JsonMapper.builder().build().readTree(Files.readAllBytes(index)).get("weight_map");
        } catch (JacksonException e) {
            throw new ModelFormatException(index + ": not valid JSON: " + e.getOriginalMessage().lines().findFirst().orElse(""));
        } catch (IOException e) {
            throw new ModelFormatException(index + ": cannot read: " + e.getMessage());
        }
        if (weightMap == null || !weightMap.isObject()) {
            throw new ModelFormatException(index + ": field 'weight_map' is missing or not an object");
        }
        Map<String, SafetensorsFile> byName = new LinkedHashMap<>();
        Map<String, Located> tensors = new LinkedHashMap<>();
        boolean ok = false;
        try {
            for (var it = weightMap.fields(); it.hasNext();) {
                var e = it.next();
                String tensor = e.getKey();
                if (!e.getValue().isTextual()) {
                    throw new ModelFormatException(index + ": weight_map['" + tensor + "'] must be a file name");
                }
                String shard = e.getValue().asText();
                Path shardPath = shardPath(folder, index, tensor, shard);
                SafetensorsFile f = byName.computeIfAbsent(shard, s -> SafetensorsFile.open(shardPath));
                TensorInfo info = f.tensors().get(tensor);
                if (info == null) {
                    throw new ModelFormatException(index + ": lists tensor '" + tensor + "' in " + shard
                            + ", but that file has no such tensor");
                }
                tensors.put(tensor, new Located(f, info));
            }
            for (SafetensorsFile f : byName.values()) {
                for (String t : f.tensors().keySet()) {
                    Located l = tensors.get(t);
                    if (l == null || l.file() != f) {
                        throw new ModelFormatException(f.path() + ": holds tensor '" + t + "' that " + INDEX_FILE
                                + " does not list in this file");
                    }
                }
            }
            ok = true;
        } finally {
            if (!ok) {
                byName.values().forEach(SafetensorsFile::close);
            }
        }
        return new SafetensorsCheckpoint(folder, List.copyOf(byName.values()), Collections.unmodifiableMap(tensors));
    }

    /** A shard the index names: a plain file name in the folder, nothing that climbs out of it. */
    private static Path shardPath(Path folder, Path index, String tensor, String shard) {
        boolean plain = !shard.isEmpty() && !shard.startsWith(".") && shard.chars().noneMatch(
                c -> c == '/' || c == '\\' || Character.isISOControl(c));
        if (plain) {
            try {
                Path p = folder.resolve(shard);
                if (p.getParent() != null && p.getParent().equals(folder)) {
                    return p;
                }
            } catch (java.nio.file.InvalidPathException e) {
                // refused below
            }
        }
        throw new ModelFormatException(index + ": weight_map['" + tensor + "'] names '" + shard
                + "', which is not a file of this folder");
    }

    public Path folder() {
        return folder;
    }

    public List<SafetensorsFile> files() {
        return files;
    }

    /** All tensors, by name. */
    public Map<String, Located> tensors() {
        return tensors;
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** @throws ModelFormatException naming the folder if there is no such tensor */
    public Located get(String name) {
        Located l = tensors.get(name);
        if (l == null) {
            throw new ModelFormatException(folder + ": no tensor '" + name + "'");
        }
        return l;
    }

    /** Converts a floating-point tensor into float32 at {@code dst}. */
    public void readFloat32(String name, MemorySegment dst) {
        Located l = get(name);
        l.file().readFloat32(l.info(), dst);
    }

    /** Bytes of tensor data over all files. */
    public long tensorBytes() {
        long n = 0;
        for (Located l : tensors.values()) {
            n += l.info().byteSize();
        }
        return n;
    }

    /** Sizes of the weight files on disk, headers included. */
    public long fileBytes() {
        long n = 0;
        for (SafetensorsFile f : files) {
            try {
                n += Files.size(f.path());
            } catch (IOException e) {
                throw new ModelFormatException(f.path() + ": cannot stat: " + e.getMessage());
            }
        }
        return n;
    }

    @Override
    public void close() {
        List<RuntimeException> errors = new ArrayList<>();
        for (SafetensorsFile f : files) {
            try {
                f.close();
            } catch (RuntimeException e) {
                errors.add(e);
            }
        }
        if (!errors.isEmpty()) {
            throw errors.getFirst();
        }
    }
}
