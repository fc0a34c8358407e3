package dev.turbosparse.eval.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The report opened in a real browser: headless Chromium, driven over the DevTools protocol. The page must load with
 * no script exception, no console or log error, every image decoded, and every section there; a screenshot of it is
 * kept in {@code target/report-in-chromium.png}.
 *
 * <p>Chromium is found at {@code $CHROMIUM}, {@code /usr/bin/chromium} or {@code /usr/bin/chromium-browser}. Without
 * one the test is skipped, unless {@code TURBOSPARSE_REQUIRE_CHROMIUM=1} (as {@code .ci/run} sets it after installing
 * Debian's chromium), where it fails.
 */
class ReportInChromiumTest {

    static final JsonMapper JSON = JsonMapper.builder().build();

    @TempDir
    Path tmp;

    static Path chromium() {
        List<String> candidates = new ArrayList<>();
        if (System.getenv("CHROMIUM") != null) {
            candidates.add(System.getenv("CHROMIUM"));
        }
        candidates.addAll(List.of("/usr/bin/chromium", "/usr/bin/chromium-browser"));
        for (String c : candidates) {
            if (Files.isExecutable(Path.of(c))) {
                return Path.of(c);
            }
        }
        if ("1".equals(System.getenv("TURBOSPARSE_REQUIRE_CHROMIUM"))) {
            fail("TURBOSPARSE_REQUIRE_CHROMIUM=1 but no Chromium at $CHROMIUM, /usr/bin/chromium or /usr/bin/chromium-browser");
        }
        Assumptions.abort("no Chromium installed (apt-get install chromium); the report is not opened in a browser");
        return null;
    }

    @Test
    void theReportOpensInHeadlessChromiumWithoutErrors() throws Exception {
        Path browser = chromium();
        Report.Output o = Report.build("turbosparse report: SwiGLU base vs dReLU", ReportTest.pair(tmp));
        Path dir = tmp.resolve("report");
        Report.write(o, dir);
        // the profile lives outside @TempDir: Chromium's helper processes may still write to it as the test ends
        Path profile = Files.createTempDirectory("turbosparse-chromium-profile");
        Process p = new ProcessBuilder(browser.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--user-data-dir=" + profile, "--remote-debugging-port=0",
                "--window-size=1200,900", "about:blank").redirectErrorStream(true).start();
        try {
            String endpoint = devtoolsEndpoint(p);
            try (Cdp cdp = Cdp.connect(pageSocket(endpoint))) {
                cdp.call("Runtime.enable", null);
                cdp.call("Log.enable", null);
                cdp.call("Page.enable", null);
                ObjectNode nav = JSON.createObjectNode().put("url", dir.resolve("report.html").toUri().toString());
                cdp.call("Page.navigate", nav);
                cdp.await("Page.loadEventFired");
                ObjectNode eval = JSON.createObjectNode().put("returnByValue", true).put("expression",
                        "JSON.stringify({title: document.title,"
                        + " images: Array.from(document.images).map(i => i.complete && i.naturalWidth > 0),"
                        + " sections: Array.from(document.querySelectorAll('h2')).map(h => h.id),"
                        + " tables: document.querySelectorAll('table').length})");
                JsonNode page = JSON.readTree(cdp.call("Runtime.evaluate", eval).at("/result/value").asText());
                ObjectNode shot = JSON.createObjectNode().put("format", "png").put("captureBeyondViewport", true);
                byte[] png = Base64.getDecoder().decode(cdp.call("Page.captureScreenshot", shot).get("data").asText());
                Path target = Path.of(System.getProperty("turbosparse.target", "target"));
                Files.createDirectories(target);
                Files.write(target.resolve("report-in-chromium.png"), png);

                assertEquals("turbosparse report: SwiGLU base vs dReLU", page.get("title").asText());
                assertEquals(o.plots().size(), page.get("images").size());
                page.get("images").forEach(decoded -> assertTrue(decoded.asBoolean(), "an image did not decode: " + page));
                assertEquals("[\"summary\",\"sparsity\",\"activated\",\"frequencies\",\"training\",\"threshold\"]",
                        page.get("sections").toString());
                assertEquals(5, page.get("tables").asInt(), "summary, per layer, activated parameters, frequencies, curve: " + page);
                List<String> errors = new ArrayList<>();
                for (JsonNode e : cdp.events) {
                    String method = e.path("method").asText();
                    JsonNode params = e.path("params");
                    if (method.equals("Runtime.exceptionThrown")
                            || method.equals("Runtime.consoleAPICalled") && params.path("type").asText().equals("error")
                            || method.equals("Log.entryAdded") && params.at("/entry/level").asText().equals("error")) {
                        errors.add(e.toString());
                    }
                }
                assertEquals(List.of(), errors, "the page logged errors");
                assertTrue(png.length > 10_000, "screenshot of " + png.length + " bytes");
            }
        } finally {
            stop(p);
            deleteQuietly(profile);
        }
    }

    /** Ends Chromium and every helper process it started, and waits until they are gone. */
    static void stop(Process p) throws InterruptedException {
        List<ProcessHandle> tree = new ArrayList<>(p.descendants().toList());
        p.destroy();
        tree.forEach(ProcessHandle::destroy);
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        for (ProcessHandle h : tree) {
            try {
                h.onExit().get(10, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                h.destroyForcibly();
            }
        }
    }

    /** Removes a folder, trying again for a while if something still writes into it; what stays is left to the OS. */
    static void deleteQuietly(Path dir) throws InterruptedException {
        for (int attempt = 0; attempt < 20 && Files.exists(dir); attempt++) {
            try (java.util.stream.Stream<Path> walk = Files.walk(dir)) {
                for (Path q : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(q);
                }
            } catch (java.io.IOException | java.io.UncheckedIOException e) {
                Thread.sleep(100);
            }
        }
    }

    /** The browser's DevTools address, from the line Chromium prints on start; its other output is drained. */
    static String devtoolsEndpoint(Process p) throws Exception {
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        CompletableFuture<String> found = new CompletableFuture<>();
        StringBuilder seen = new StringBuilder();
        Thread reader = new Thread(() -> {
            Pattern ws = Pattern.compile("DevTools listening on (ws://\\S+)");
            try {
                for (String line; (line = out.readLine()) != null;) {
                    Matcher m = ws.matcher(line);
                    if (m.find()) {
                        found.complete(m.group(1));
                    } else if (!found.isDone()) {
                        seen.append(line).append('\n');
                    }
                }
            } catch (IOException e) {
                found.completeExceptionally(e);
            }
            found.completeExceptionally(new IllegalStateException("Chromium exited: " + seen));
        }, "chromium-output");
        reader.setDaemon(true);
        reader.start();
        return found.get(60, TimeUnit.SECONDS);
    }

    /** The WebSocket of the browser's first page (about:blank), from its /json/list. */
    static URI pageSocket(String browserEndpoint) throws Exception {
        URI b = URI.create(browserEndpoint);
        HttpResponse<String> list = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://" + b.getHost() + ":" + b.getPort() + "/json/list")).build(),
                HttpResponse.BodyHandlers.ofString());
        for (JsonNode t : JSON.readTree(list.body())) {
            if (t.path("type").asText().equals("page")) {
                return URI.create(t.get("webSocketDebuggerUrl").asText());
            }
        }
        throw new IllegalStateException("no page target in " + list.body());
    }

    /** A minimal DevTools protocol client: commands by id, events kept in order. */
    static final class Cdp implements WebSocket.Listener, AutoCloseable {
        final List<JsonNode> events = new CopyOnWriteArrayList<>();
        private final Map<Integer, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();
        private final Map<String, CompletableFuture<JsonNode>> awaited = new ConcurrentHashMap<>();
        private final AtomicInteger ids = new AtomicInteger();
        private final StringBuilder partial = new StringBuilder();
        private WebSocket socket;

        static Cdp connect(URI page) throws Exception {
            Cdp cdp = new Cdp();
            cdp.socket = HttpClient.newHttpClient().newWebSocketBuilder().buildAsync(page, cdp).get(30, TimeUnit.SECONDS);
            return cdp;
        }

        JsonNode call(String method, ObjectNode params) throws Exception {
            int id = ids.incrementAndGet();
            ObjectNode msg = JSON.createObjectNode().put("id", id).put("method", method);
            if (params != null) {
                msg.set("params", params);
            }
            CompletableFuture<JsonNode> reply = new CompletableFuture<>();
            pending.put(id, reply);
            socket.sendText(msg.toString(), true).get(30, TimeUnit.SECONDS);
            JsonNode r = reply.get(60, TimeUnit.SECONDS);
            if (r.has("error")) {
                throw new IllegalStateException(method + ": " + r.get("error"));
            }
            return r.get("result");
        }

        /** Waits for an event (one that came already counts). */
        void await(String method) throws Exception {
            CompletableFuture<JsonNode> f = awaited.computeIfAbsent(method, k -> new CompletableFuture<>());
            events.stream().filter(e -> e.path("method").asText().equals(method)).findFirst().ifPresent(f::complete);
            f.get(60, TimeUnit.SECONDS);
        }

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                try {
                    JsonNode msg = JSON.readTree(partial.toString());
                    if (msg.has("id")) {
                        pending.remove(msg.get("id").asInt()).complete(msg);
                    } else {
                        events.add(msg);
                        CompletableFuture<JsonNode> f = awaited.computeIfAbsent(msg.path("method").asText(),
                                k -> new CompletableFuture<>());
                        f.complete(msg);
                    }
                } catch (IOException e) {
                    throw new IllegalStateException("not JSON from Chromium: " + partial, e);
                }
                partial.setLength(0);
            }
            ws.request(1);
            return null;
        }

        @Override
        public void close() {
            socket.sendClose(WebSocket.NORMAL_CLOSURE, "done");
        }
    }
}
