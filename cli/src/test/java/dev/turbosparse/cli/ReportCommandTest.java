package dev.turbosparse.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** report: the page, its numbers and plots from what sparsity wrote for the bundled models; bad input in one line. */
class ReportCommandTest {

    static final String TOKENS = "1,415,2936,9060,285,1142,28705,28740,28723,28770";

    @TempDir
    Path dir;

    private Path sparsity(Path model, String name) throws IOException {
        Path freq = dir.resolve(name + "-freq.safetensors");
        CliRun r = CliRun.of("sparsity", "--model", model.toString(), "--tokens", TOKENS, "--frequencies", freq.toString(),
                "--format", "json");
        assertEquals(0, r.exit(), r.err());
        Path json = dir.resolve(name + "-sparsity.json");
        Files.writeString(json, r.out());
        return json;
    }

    @Test
    void aReportComparesTheBundledSwigluAndDreluModels() throws IOException {
        Path swiglu = sparsity(CliRun.root().resolve("models/tiny-mistral-swiglu"), "swiglu");
        Path drelu = sparsity(CliRun.tinyModel(), "drelu");
        Path out = dir.resolve("report");
        CliRun r = CliRun.of("report", "--model", "SwiGLU", "--sparsity", swiglu.toString(), "--frequencies",
                dir.resolve("swiglu-freq.safetensors").toString(), "--model", "dReLU", "--sparsity", drelu.toString(),
                "--frequencies", dir.resolve("drelu-freq.safetensors").toString(), "--out", out.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("report.html: 3 plots"), r.out());
        String html = Files.readString(out.resolve("report.html"));
        assertTrue(html.contains("<title>turbosparse report: SwiGLU vs dReLU</title>"), "default title");
        JsonNode report = JsonMapper.builder().build().readTree(out.resolve("report.json").toFile());
        JsonNode zeros = report.get("summary").get(0);
        assertEquals("FFN exact zeros, all tokens (mean of layers)", zeros.get("metric").asText());
        assertEquals(0.0, zeros.get("values").get("SwiGLU").asDouble());
        assertTrue(zeros.get("values").get("dReLU").asDouble() > 0.3, zeros.toString());
        for (String png : new String[] {"sparsity-per-layer.png", "SwiGLU-activation-frequency.png",
            "dReLU-activation-frequency.png"}) {
            assertTrue(Files.size(out.resolve("plots").resolve(png)) > 1000, png);
        }
    }

    @Test
    void badInputIsOneLine() throws IOException {
        Path notJson = dir.resolve("x.json");
        Files.writeString(notJson, "zero_fraction: [1]");
        CliRun r = CliRun.of("report", "--model", "a", "--sparsity", notJson.toString(), "--out", dir.resolve("o").toString());
        assertEquals(1, r.exit());
        assertTrue(r.errorLine().contains(notJson + ": not valid JSON"), r.errorLine());
        r = CliRun.of("report", "--model", "a", "--out", dir.resolve("o").toString());
        assertEquals(1, r.exit());
        assertTrue(r.errorLine().contains("model 'a': give at least one of"), r.errorLine());
        r = CliRun.of("report", "--sparsity", notJson.toString(), "--out", dir.resolve("o").toString());
        assertEquals(2, r.exit(), "an option of a model before any --model is a usage error");
        assertTrue(r.err().contains("--model"), r.err());
    }
}
