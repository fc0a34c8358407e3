package dev.turbosparse.eval.export;

import static dev.turbosparse.eval.export.ExportTest.parity;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.turbosparse.model.gguf.GgmlType;
import dev.turbosparse.model.gguf.LlamaGguf;
import dev.turbosparse.model.nn.CausalLM;
import dev.turbosparse.model.safetensors.SafetensorsFile;
import dev.turbosparse.runtime.Decoder;
import dev.turbosparse.runtime.RuntimeLoader;
import dev.turbosparse.runtime.RuntimeModel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The runtime on every weight type it reads, through GGUF files exported in that type: against the DJL model of the
 * same file (which dequantizes to float32 first: the kernels must decode what the file holds, 1e-4) and against the
 * float32 PyTorch reference (the type's own rounding, the stated tolerance).
 */
class RuntimeTypesTest {

    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0} {1} {2}")
    @CsvSource({
        // fixture, kind, type, tolerance against the reference (the fixtures' logits reach 7 to 9). Their weights are
        // bf16 values, which F16 and BF16 hold exactly: those files give the float32 logits. Q8_0 and Q4_0 round
        // each block of 32 to 255 and 16 levels; random tiny models are their worst case (measured: Q8_0 0.11 to
        // 0.14, Q4_0 2.4 to 2.6).
        "mistral, DENSE, F16, 1e-4", "mistral, DENSE, BF16, 1e-4", "mistral, DENSE, Q8_0, 0.2",
        "mistral, DENSE, Q4_0, 3", "mixtral, DENSE, Q8_0, 0.2", "mixtral, DENSE, Q4_0, 3",
        "mistral-drelu, SPARSE, F16, 1e-4", "mistral-drelu, SPARSE, Q8_0, 0.2", "mixtral-drelu, SPARSE, Q4_0, 3"})
    void theRuntimeDecodesEveryTypeAsTheFileHoldsIt(String fixture, LlamaGguf.Kind kind, GgmlType type, double tolerance)
            throws IOException {
        Path out = tmp.resolve(fixture + "-" + type + ".gguf");
        try (ExportSource source = ExportSource.open(parity(fixture))) {
            GgufExporter.export(source, null, type, null, kind, 0f, out, null);
        }
        int[] ids;
        float[] reference;
        try (SafetensorsFile f = SafetensorsFile.open(parity(fixture).resolve("reference.safetensors"))) {
            ids = Arrays.stream(Arrays.copyOf(f.readLongs("input_ids"), 20)).mapToInt(l -> (int) l).toArray();
            reference = Arrays.copyOf(f.readFloats("logits"), 20 * 512);
        }
        float[][] runtime;
        try (RuntimeModel m = RuntimeLoader.load(out); Decoder d = new Decoder(m, Decoder.Mode.DENSE, 20, 2, Float.NaN)) {
            runtime = d.logits(ids);
        }
        float[][] djl;
        try (NDManager nd = NDManager.newBaseManager(); CausalLM model = LlamaGguf.load(out, nd, null)) {
            djl = ExportTest.logits(model, ids);
        }
        double vsDjl = ExportTest.maxAbsDiff(djl, runtime);
        double vsReference = 0;
        for (int t = 0; t < 20; t++) {
            for (int v = 0; v < 512; v++) {
                vsReference = Math.max(vsReference, Math.abs(runtime[t][v] - reference[t * 512 + v]));
            }
        }
        System.out.printf("%s %s %s: runtime vs DJL on the same file %.2e, vs the float32 reference %.2e%n", fixture,
                kind, type, vsDjl, vsReference);
        assertTrue(vsDjl <= 1e-4, type + ": the runtime and the DJL model of the same file differ by " + vsDjl);
        assertTrue(vsReference <= tolerance, type + ": " + vsReference + " from the reference, above " + tolerance);
    }
}
