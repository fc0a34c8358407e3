package dev.turbosparse.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.model.io.InputException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checkpoints count once committed; a crash's leftovers are removed; damage is found; old ones are pruned. */
class RunFolderTest {

    @TempDir
    Path dir;

    private RunFolder.Checkpoint write(RunFolder run, long step) throws IOException {
        return run.writeCheckpoint(step, folder -> Files.writeString(folder.resolve("weights.bin"), "w" + step));
    }

    @Test
    void onlyCommittedCheckpointsCountAndLeftoversGo() throws IOException {
        RunFolder run = RunFolder.open(dir.toString(), Fs.configuration());
        assertFalse(run.holdsRun());
        write(run, 2);
        write(run, 4);
        // a checkpoint a crash cut short: its files, no COMMITTED
        Path torn = dir.resolve("checkpoints/step-000006");
        Files.createDirectories(torn);
        Files.writeString(torn.resolve("weights.bin"), "half");
        assertTrue(run.holdsRun());
        assertEquals(List.of(2L, 4L), run.committed().stream().map(RunFolder.Checkpoint::step).toList());
        assertEquals(4, run.latest().orElseThrow().step());
        run.removeUncommitted();
        assertFalse(Files.exists(torn));
        assertTrue(Files.readString(dir.resolve("checkpoints/step-000004/COMMITTED")).contains("\"weights.bin\" : 2"));
    }

    @Test
    void pruningKeepsTheLatest() throws IOException {
        RunFolder run = RunFolder.open(dir.toString(), Fs.configuration());
        for (long s = 1; s <= 4; s++) {
            write(run, s);
        }
        run.prune(2);
        assertEquals(List.of(3L, 4L), run.committed().stream().map(RunFolder.Checkpoint::step).toList());
    }

    @Test
    void aDamagedCheckpointIsNamed() throws IOException {
        RunFolder run = RunFolder.open(dir.toString(), Fs.configuration());
        RunFolder.Checkpoint c = write(run, 3);
        Path weights = dir.resolve("checkpoints/step-000003/weights.bin");
        Files.writeString(weights, "truncated");
        InputException e = assertThrows(InputException.class, () -> run.local(c));
        assertTrue(e.getMessage().contains("weights.bin: missing or not the 2 bytes its checkpoint's COMMITTED lists"),
                e.getMessage());
    }

    @Test
    void metricsAreCutBackToTheCheckpointAndATornLineIsDropped() throws IOException {
        Path file = dir.resolve(MetricsLog.FILE_NAME);
        Files.writeString(file, """
                {"step":0,"loss":10.0}
                {"step":1,"loss":9.0}
                {"step":2,"loss":8.0}
                {"step":3,"loss":7.0}
                {"step":4,"lo""");
        var fs = Fs.fs(Fs.path(dir.toString()), Fs.configuration());
        try (MetricsLog log = MetricsLog.open(fs, Fs.path(dir.toString()), 2)) {
            log.write(MetricsLog.JSON.createObjectNode().put("step", 3).put("loss", 6.5));
        }
        assertEquals(List.of("{\"step\":0,\"loss\":10.0}", "{\"step\":1,\"loss\":9.0}", "{\"step\":2,\"loss\":8.0}",
                "{\"step\":3,\"loss\":6.5}"), Files.readAllLines(file));
    }
}
