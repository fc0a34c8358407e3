package dev.turbosparse.eval.report;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.turbosparse.eval.sparsity.ActivationFrequencies;
import dev.turbosparse.model.io.InputException;
import dev.turbosparse.model.safetensors.DType;
import dev.turbosparse.model.safetensors.SafetensorsWriter;
import dev.turbosparse.model.safetensors.TensorSources;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/** The report: its numbers against its inputs, a page an XML parser reads, plots embedded and written beside it. */
class ReportTest {

    static final JsonMapper JSON = JsonMapper.builder().build();

    @TempDir
    Path tmp;

    /** A dense SwiGLU base and a dReLU continuation, as the commands would have written their files. */
    static List<ReportModel> pair(Path tmp) throws IOException {
        Path base = write(tmp, "base-sparsity.json", """
                {"model":"base","ffn_activation":"silu","tokens":100,"zero_fraction":[0.0,0.0],
                 "domains":{"web":{"tokens":60,"zero_fraction":[0.0,0.0]},"code":{"tokens":40,"zero_fraction":[0.0,0.0]}},
                 "activated_parameters":{"per_token":1000,"total":1000,"fraction":1.0,"embeddings":500,"attention":200,
                   "norms":4,"router":0,"ffn_active":296,"ffn_total":296,"predictors":0},
                 "threshold_curve":[{"target":null,"mean_zero_fraction":0.0,"mean_loss":4.0,"perplexity":54.6},
                                    {"target":0.9,"mean_zero_fraction":0.88,"mean_loss":4.2,"perplexity":66.7}]}""");
        Path drelu = write(tmp, "drelu-sparsity.json", """
                {"model":"drelu","ffn_activation":"drelu","tokens":100,"zero_fraction":[0.7,0.8],
                 "domains":{"web":{"tokens":60,"zero_fraction":[0.72,0.82]},"code":{"tokens":40,"zero_fraction":[0.67,0.77]}},
                 "activated_parameters":{"per_token":778,"total":1000,"fraction":0.778,"embeddings":500,"attention":200,
                   "norms":4,"router":0,"ffn_active":74,"ffn_total":296,"predictors":0},
                 "threshold_curve":[{"target":null,"mean_zero_fraction":0.75,"mean_loss":4.01,"perplexity":55.1},
                                    {"target":0.9,"mean_zero_fraction":0.89,"mean_loss":4.02,"perplexity":55.7}]}""");
        String results = """
                {"results":{"arc_challenge":{"alias":"arc_challenge","acc,none":%s,"acc_stderr,none":0.05,
                              "acc_norm,none":%s,"acc_norm_stderr,none":0.04},
                            "mmlu_astronomy":{"alias":" - astronomy","acc,none":0.9,"acc_stderr,none":0.1},
                            "mmlu":{"alias":"mmlu","acc,none":%s,"acc_stderr,none":0.02},
                            "gsm8k":{"alias":"gsm8k","exact_match,strict-match":%s,"exact_match_stderr,strict-match":"N/A"}},
                 "group_subtasks":{"mmlu":["mmlu_astronomy"]},
                 "higher_is_better":{"arc_challenge":{"acc":true,"acc_norm":true},"mmlu_astronomy":{"acc":true},
                                     "gsm8k":{"exact_match":true}},
                 "perplexity":{"web":{"loss":%s,"perplexity":%s,"tokens":60}}}""";
        Path baseResults = write(tmp, "base-results.json", String.format(results, "0.25", "0.30", "0.40", "0.1", "4.0", "54.6"));
        Path dreluResults = write(tmp, "drelu-results.json", String.format(results, "0.26", "0.29", "0.41", "0.1", "4.01", "55.1"));
        Path run = tmp.resolve("drelu-run");
        Files.createDirectories(run);
        Files.writeString(run.resolve("metrics.jsonl"), """
                {"step":0,"loss":5.6,"tokens":0,"heldout_loss":{"web":5.6,"code":5.5},"ffn_zero_fraction":[0.78,0.79]}
                {"step":1,"loss":5.4,"tokens":100}
                {"step":2,"loss":5.2,"tokens":200,"heldout_loss":{"web":5.2,"code":5.1},"ffn_zero_fraction":[0.75,0.77]}
                """);
        Path freq = tmp.resolve("drelu-freq.safetensors");
        frequencies(freq, new float[][] {{0, 0, 0.1f, 0.9f}, {1, 0.5f, 0.25f, 0.25f}});
        return List.of(ReportModel.read("SwiGLU base", base, baseResults, null, null),
                ReportModel.read("dReLU", drelu, dreluResults, freq, run.toString()));
    }

    static Path write(Path dir, String name, String text) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, text);
        return p;
    }

    /** An activation-frequency file of a dense model, a row per layer. */
    static void frequencies(Path file, float[][] layers) throws IOException {
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        for (int l = 0; l < layers.length; l++) {
            ByteBuffer b = ByteBuffer.allocateDirect(layers[l].length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (float f : layers[l]) {
                b.putFloat(f);
            }
            entries.add(new SafetensorsWriter.Entry("model.layers." + l + ".mlp.activation_frequency", DType.F32,
                    new long[] {layers[l].length}, TensorSources.raw(MemorySegment.ofBuffer(b.flip()))));
        }
        SafetensorsWriter.writeFile(file, entries, Map.of("format", ActivationFrequencies.FORMAT, "tokens", "100",
                "source", "test"));
    }

    static JsonNode summaryRow(JsonNode report, String metric) {
        for (JsonNode r : report.get("summary")) {
            if (r.get("metric").asText().equals(metric)) {
                return r;
            }
        }
        return null;
    }

    @Test
    void theSummaryHoldsEachModelsNumbersAndGroupsReplaceTheirSubtasks() throws IOException {
        Report.Output o = Report.build("t", pair(tmp));
        JsonNode zeros = summaryRow(o.json(), "FFN exact zeros, all tokens (mean of layers)");
        assertEquals(0.0, zeros.get("values").get("SwiGLU base").asDouble());
        assertEquals(0.75, zeros.get("values").get("dReLU").asDouble(), 1e-12);
        assertEquals(0.77, summaryRow(o.json(), "FFN exact zeros, web (mean of layers)").get("values").get("dReLU").asDouble(),
                1e-12);
        assertEquals(778.0, summaryRow(o.json(), "activated parameters per token").get("values").get("dReLU").asDouble());
        JsonNode acc = summaryRow(o.json(), "arc_challenge acc");
        assertEquals(0.26, acc.get("values").get("dReLU").asDouble());
        assertEquals(0.05, acc.get("stderr").get("dReLU").asDouble());
        assertTrue(acc.get("higher_is_better").asBoolean());
        JsonNode mmlu = summaryRow(o.json(), "mmlu acc");
        assertEquals(0.41, mmlu.get("values").get("dReLU").asDouble());
        assertTrue(mmlu.get("higher_is_better").asBoolean(), "a group takes its subtasks' direction");
        assertEquals(null, summaryRow(o.json(), "mmlu_astronomy acc"), "subtasks are in their group's row");
        assertNotNull(summaryRow(o.json(), "gsm8k exact_match (strict-match)"));
        assertFalse(summaryRow(o.json(), "held-out loss, web").get("higher_is_better").asBoolean());
        // the change column: last model minus first
        assertTrue(o.html().contains("<td class=\"n\">+75.00 pp</td>"), "zeros change");
        assertTrue(o.html().contains("<td class=\"n\">+0.0100</td>"), "held-out loss change");
    }

    @Test
    void thePageIsWellFormedSelfContainedAndItsPlotsAreWrittenBeside() throws Exception {
        Report.Output o = Report.build("SwiGLU & dReLU <compared>", pair(tmp));
        Path dir = tmp.resolve("out");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("keep.txt"), "other stage");
        Report.write(o, dir);
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        Document doc = f.newDocumentBuilder().parse(new ByteArrayInputStream(
                Files.readAllBytes(dir.resolve("report.html"))));
        assertEquals("SwiGLU & dReLU <compared>", doc.getElementsByTagName("title").item(0).getTextContent());
        List<String> ids = new ArrayList<>();
        NodeList h2 = doc.getElementsByTagName("h2");
        for (int i = 0; i < h2.getLength(); i++) {
            ids.add(((Element) h2.item(i)).getAttribute("id"));
        }
        assertEquals(List.of("summary", "sparsity", "activated", "frequencies", "training", "threshold"), ids);
        NodeList images = doc.getElementsByTagName("img");
        List<String> files = new ArrayList<>(o.plots().keySet());
        assertEquals(List.of("sparsity-per-layer.png", "dReLU-activation-frequency.png", "training-loss.png",
                "training-heldout-loss.png", "training-ffn-zero-fraction.png", "threshold-curve.png"), files);
        assertEquals(files.size(), images.getLength());
        for (int i = 0; i < images.getLength(); i++) {
            String src = ((Element) images.item(i)).getAttribute("src");
            assertTrue(src.startsWith("data:image/png;base64,"), "every image is embedded");
            byte[] png = Base64.getDecoder().decode(src.substring("data:image/png;base64,".length()));
            assertArrayEquals(Files.readAllBytes(dir.resolve("plots").resolve(files.get(i))), png, files.get(i));
            assertEquals(0x89, png[0] & 0xFF);
            assertEquals("PNG", new String(png, 1, 3, StandardCharsets.US_ASCII));
        }
        JsonNode json = JSON.readTree(dir.resolve("report.json").toFile());
        assertEquals(List.of("SwiGLU base", "dReLU"), List.of(json.get("models").get(0).asText(),
                json.get("models").get(1).asText()));
        assertEquals(0.82, json.get("zero_fraction").get("dReLU").get("web").get(1).asDouble(), 1e-12);
        assertEquals("other stage", Files.readString(dir.resolve("keep.txt")), "other files are left alone");
    }

    @Test
    void frequencyStatisticsAndHistogramAreWhatTheirDefinitionsGive() {
        // 0, 0, 0.1, 0.9: half never active, median 0.05, mean 0.25; 0.9 alone is 90% >= 80% of all activations
        Report.FrequencyStats s = Report.FrequencyStats.of(new float[] {0.9f, 0, 0.1f, 0});
        assertEquals(0.5, s.neverActive());
        assertEquals(0.05, s.median(), 1e-7);
        assertEquals(0.25, s.mean(), 1e-7);
        assertEquals(0.25, s.hotShare());
        // 1, 0.5, 0.25, 0.25 (total 2): the two largest hold 1.5 = 75% < 80%, three hold 87.5%
        assertEquals(0.75, Report.FrequencyStats.of(new float[] {1, 0.5f, 0.25f, 0.25f}).hotShare());
        double[] h = Report.histogram(new float[] {0, 0.04f, 0.05f, 1});
        assertEquals(50.0, h[0]);
        assertEquals(25.0, h[1]);
        assertEquals(25.0, h[Report.BINS - 1], "frequency 1 falls in the last bin");
    }

    @Test
    void badInputIsRefusedNamingTheFile() throws IOException {
        Path broken = write(tmp, "broken.json", "{\"zero_fraction\": [0.1,\n 0.2,, ]}");
        InputException e = assertThrows(InputException.class, () -> ReportModel.read("a", broken, null, null, null));
        assertTrue(e.getMessage().startsWith(broken + ": not valid JSON (line 2"), e.getMessage());
        Path notSparsity = write(tmp, "results.json", "{\"results\": {}}");
        e = assertThrows(InputException.class, () -> ReportModel.read("a", notSparsity, null, null, null));
        assertTrue(e.getMessage().contains("has no field 'zero_fraction'"), e.getMessage());
        e = assertThrows(InputException.class, () -> ReportModel.read("a", tmp.resolve("missing.json"), null, null, null));
        assertEquals(tmp.resolve("missing.json") + ": not found", e.getMessage());
        e = assertThrows(InputException.class, () -> ReportModel.read("a", null, null, null, null));
        assertTrue(e.getMessage().contains("give at least one"), e.getMessage());
        List<ReportModel> twice = List.of(ReportModel.read("a", null, notSparsity, null, null),
                ReportModel.read("a", null, notSparsity, null, null));
        e = assertThrows(InputException.class, () -> Report.build("t", twice));
        assertTrue(e.getMessage().contains("'a' is given twice"), e.getMessage());
        Path notFrequencies = write(tmp, "x.safetensors", "not safetensors at all");
        assertThrows(InputException.class, () -> ReportModel.read("a", null, null, notFrequencies, null));
        e = assertThrows(InputException.class, () -> Report.build("t",
                List.of(ReportModel.read("a", null, null, null, tmp.resolve("no-run").toString()))));
        assertTrue(e.getMessage().contains("no-run: not found"), e.getMessage());
    }
}
