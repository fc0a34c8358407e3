package dev.turbosparse.eval.tasks;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The benchmark tasks, as lm-evaluation-harness 0.4 defines them (prompt, choices, gold, metrics, few-shot split),
 * each read from its dataset's own published files in a folder the user gives. The default shots are the Turbo
 * Sparse paper's (Open LLM Leaderboard settings): ARC-Challenge 25, HellaSwag 10, MMLU 5, TruthfulQA 0,
 * Winogrande 5, GSM8K 8, and 0 for PIQA, SciQ, ARC-Easy and OpenBookQA.
 */
public final class Tasks {

    /** How a task is scored. */
    public enum Kind {
        /** log-likelihood of each choice: acc (and acc_norm where lm-eval reports it) */
        MULTIPLE_CHOICE,
        /** TruthfulQA mc2: the normalised probability mass of the true answers */
        MC2,
        /** greedy generation, answer extraction, exact match (GSM8K) */
        GENERATE
    }

    /** A set of examples scored together, with its own few-shot pool and description (one MMLU subject, say). */
    public record Subtask(String name, List<Doc> docs, List<Doc> fewshot, String description) {}

    /** A task: its name, how it is scored and read. */
    public record Task(String name, Kind kind, int paperShots, boolean firstNFewshot, boolean accNorm,
            String layout, Reader reader) {

        /** Whether the dataset has a split to draw few-shot examples from (TruthfulQA has none: always 0-shot). */
        public boolean hasFewshotSplit() {
            return !name.startsWith("truthfulqa");
        }
    }

    /** Reads a task's examples from the folder (or file) the user gave; the few-shot pool only if it is needed. */
    @FunctionalInterface
    public interface Reader {
        List<Subtask> read(Path root, boolean fewshot);
    }

    private static final Map<String, Task> TASKS = new LinkedHashMap<>();

    static {
        add(new Task("arc_challenge", Kind.MULTIPLE_CHOICE, 25, false, true,
                "AI2 ARC: ARC-Challenge-Test.jsonl (+ ARC-Challenge-Train.jsonl for shots)",
                (root, fs) -> arc(root, "ARC-Challenge", fs)));
        add(new Task("arc_easy", Kind.MULTIPLE_CHOICE, 0, false, true,
                "AI2 ARC: ARC-Easy-Test.jsonl (+ ARC-Easy-Train.jsonl for shots)",
                (root, fs) -> arc(root, "ARC-Easy", fs)));
        add(new Task("hellaswag", Kind.MULTIPLE_CHOICE, 10, false, true,
                "hellaswag_val.jsonl (+ hellaswag_train.jsonl for shots)", Tasks::hellaswag));
        add(new Task("mmlu", Kind.MULTIPLE_CHOICE, 5, true, false,
                "hendrycks data folder: test/<subject>_test.csv (+ dev/<subject>_dev.csv for shots)", Tasks::mmlu));
        add(new Task("truthfulqa_mc1", Kind.MULTIPLE_CHOICE, 0, false, false, "mc_task.json",
                (root, fs) -> truthfulqa(root, "mc1_targets")));
        add(new Task("truthfulqa_mc2", Kind.MC2, 0, false, false, "mc_task.json",
                (root, fs) -> truthfulqa(root, "mc2_targets")));
        add(new Task("winogrande", Kind.MULTIPLE_CHOICE, 5, false, false,
                "dev.jsonl (+ train_xl.jsonl for shots)", Tasks::winogrande));
        add(new Task("gsm8k", Kind.GENERATE, 8, false, false, "test.jsonl (+ train.jsonl for shots)", Tasks::gsm8k));
        add(new Task("piqa", Kind.MULTIPLE_CHOICE, 0, false, true,
                "valid.jsonl and valid-labels.lst (+ train.jsonl, train-labels.lst for shots)", Tasks::piqa));
        add(new Task("sciq", Kind.MULTIPLE_CHOICE, 0, false, true, "test.json (+ train.json for shots)", Tasks::sciq));
        add(new Task("openbookqa", Kind.MULTIPLE_CHOICE, 0, false, true,
                "Main/test.jsonl (+ Main/train.jsonl for shots)", Tasks::openbookqa));
    }

    private static void add(Task t) {
        TASKS.put(t.name(), t);
    }

    private Tasks() {}

    public static Map<String, Task> all() {
        return java.util.Collections.unmodifiableMap(TASKS);
    }

    /** A task by name; unknown names are refused with the list of known ones. */
    public static Task byName(String name) {
        Task t = TASKS.get(name);
        if (t == null) {
            throw new IllegalArgumentException("unknown task '" + name + "'; known: " + String.join(", ", TASKS.keySet()));
        }
        return t;
    }

    // ---- the datasets' published layouts -------------------------------------------------------------------------

    /** {@code root} itself if it is a file, else the first of {@code names} that exists in it. */
    static Path find(Path root, String... names) {
        if (Files.isRegularFile(root)) {
            return root;
        }
        if (!Files.isDirectory(root)) {
            throw new TaskFormatException(root + ": not found");
        }
        for (String n : names) {
            if (Files.isRegularFile(root.resolve(n))) {
                return root.resolve(n);
            }
        }
        throw new TaskFormatException(root + ": holds none of " + String.join(", ", names));
    }

    /** The few-shot file beside the evaluation file, which must exist when shots are asked for. */
    static Path sibling(Path evalFile, String... names) {
        Path dir = evalFile.toAbsolutePath().getParent();
        for (String n : names) {
            if (Files.isRegularFile(dir.resolve(n))) {
                return dir.resolve(n);
            }
        }
        throw new TaskFormatException(dir + ": few-shot examples need " + String.join(" or ", names)
                + " beside " + evalFile.getFileName() + " (or run with --shots 0)");
    }

    /** ARC and OpenBookQA: question.stem, question.choices[{text,label}], answerKey (HF: question, choices{text,label}). */
    private static Doc arcDoc(Records.Rec r, boolean openbook) {
        List<String> texts = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        String question;
        if (r.node("question").isObject()) {
            question = r.text("question.stem");
            for (JsonNode c : r.node("question.choices")) {
                texts.add(text(r, c, "text"));
                labels.add(text(r, c, "label"));
            }
        } else {
            question = r.text(openbook ? "question_stem" : "question");
            texts.addAll(r.texts("choices.text"));
            labels.addAll(r.texts("choices.label"));
        }
        String key = r.text("answerKey").strip();
        int gold = labels.indexOf(key);
        if (gold < 0) {
            throw new TaskFormatException(r.where() + ": answerKey '" + key + "' is none of the choice labels " + labels);
        }
        String context = openbook ? question : "Question: " + question + "\nAnswer:";
        return Doc.choice(r.where(), context, texts, gold);
    }

    private static String text(Records.Rec r, JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.isTextual()) {
            throw new TaskFormatException(r.where() + ": a choice's field '" + field + "' is missing");
        }
        return v.asText();
    }

    private static List<Subtask> arc(Path root, String set, boolean fewshot) {
        Path test = find(root, set + "-Test.jsonl", "test.jsonl");
        List<Doc> docs = Records.jsonLines(test).stream().map(r -> arcDoc(r, false)).toList();
        List<Doc> shots = fewshot ? Records.jsonLines(sibling(test, set + "-Train.jsonl", "train.jsonl")).stream()
                .map(r -> arcDoc(r, false)).toList() : List.of();
        return List.of(new Subtask(set, docs, shots, null));
    }

    private static List<Subtask> openbookqa(Path root, boolean fewshot) {
        Path test = Files.isDirectory(root.resolve("Main")) ? find(root.resolve("Main"), "test.jsonl") : find(root, "test.jsonl");
        List<Doc> docs = Records.jsonLines(test).stream().map(r -> arcDoc(r, true)).toList();
        List<Doc> shots = fewshot ? Records.jsonLines(sibling(test, "train.jsonl")).stream().map(r -> arcDoc(r, true)).toList()
                : List.of();
        return List.of(new Subtask("openbookqa", docs, shots, null));
    }

    /** lm-eval's HellaSwag preprocess: strip, " [title]" to ". ", drop [bracketed] artifacts, double spaces to one. */
    static String hellaswagPreprocess(String text) {
        String t = text.strip().replace(" [title]", ". ");
        t = t.replaceAll("\\[.*?\\]", "");
        return t.replace("  ", " ");
    }

    private static Doc hellaswagDoc(Records.Rec r) {
        String ctxB = r.text("ctx_b");
        String ctx = r.text("ctx_a") + " " + (ctxB.isEmpty() ? "" : ctxB.substring(0, 1).toUpperCase(Locale.ROOT)
                + ctxB.substring(1).toLowerCase(Locale.ROOT));
        String query = hellaswagPreprocess(r.text("activity_label") + ": " + ctx);
        List<String> endings = r.texts("endings").stream().map(Tasks::hellaswagPreprocess).toList();
        return Doc.choice(r.where(), query, endings, r.integer("label"));
    }

    private static List<Subtask> hellaswag(Path root, boolean fewshot) {
        Path val = find(root, "hellaswag_val.jsonl", "validation.jsonl");
        List<Doc> docs = Records.jsonLines(val).stream().map(Tasks::hellaswagDoc).toList();
        List<Doc> shots = fewshot ? Records.jsonLines(sibling(val, "hellaswag_train.jsonl", "train.jsonl")).stream()
                .map(Tasks::hellaswagDoc).toList() : List.of();
        return List.of(new Subtask("hellaswag", docs, shots, null));
    }

    private static Doc mmluDoc(Records.Rec r) {
        List<String> choices = List.of(r.text("1"), r.text("2"), r.text("3"), r.text("4"));
        String context = r.text("0").strip() + "\nA. " + choices.get(0) + "\nB. " + choices.get(1) + "\nC. "
                + choices.get(2) + "\nD. " + choices.get(3) + "\nAnswer:";
        String answer = r.text("5").strip();
        int gold = switch (answer) {
            case "A" -> 0;
            case "B" -> 1;
            case "C" -> 2;
            case "D" -> 3;
            default -> throw new TaskFormatException(r.where() + ": the answer column holds '" + answer
                    + "', not one of A, B, C, D");
        };
        return Doc.choice(r.where(), context, List.of("A", "B", "C", "D"), gold);
    }

    private static List<Subtask> mmlu(Path root, boolean fewshot) {
        Path testDir = Files.isDirectory(root.resolve("test")) ? root.resolve("test") : root;
        List<Path> files;
        try (Stream<Path> s = Files.list(testDir)) {
            files = s.filter(p -> p.getFileName().toString().endsWith("_test.csv")).sorted().toList();
        } catch (IOException e) {
            throw new TaskFormatException(root + ": cannot list MMLU's test/ folder: " + e.getMessage());
        }
        if (files.isEmpty()) {
            throw new TaskFormatException(testDir + ": holds no <subject>_test.csv file (the hendrycks MMLU data folder)");
        }
        List<Subtask> out = new ArrayList<>();
        for (Path f : files) {
            String subject = f.getFileName().toString().replaceFirst("_test\\.csv$", "");
            List<Doc> docs = Records.csv(f, 6).stream().map(Tasks::mmluDoc).toList();
            List<Doc> shots = List.of();
            if (fewshot) {
                Path dev = testDir.toAbsolutePath().getParent().resolve("dev").resolve(subject + "_dev.csv");
                if (!Files.isRegularFile(dev)) {
                    throw new TaskFormatException(dev + ": not found (MMLU's few-shot examples are the dev split)");
                }
                shots = Records.csv(dev, 6).stream().map(Tasks::mmluDoc).toList();
            }
            String description = "The following are multiple choice questions (with answers) about "
                    + subject.replace('_', ' ') + ".\n\n";
            out.add(new Subtask("mmlu_" + subject, docs, shots, description));
        }
        return out;
    }

    /** TruthfulQA's fixed six-shot preamble, part of every prompt (the task itself is zero-shot). */
    static final String TRUTHFULQA_PREAMBLE = "Q: What is human life expectancy in the United States?\n"
            + "A: Human life expectancy in the United States is 78 years.\n\n"
            + "Q: Who was president of the United States in 1955?\n"
            + "A: Dwight D. Eisenhower was president of the United States in 1955.\n\n"
            + "Q: Which party did he belong to?\n"
            + "A: He belonged to the Republican Party.\n\n"
            + "Q: What is the square root of banana?\n"
            + "A: I have no comment.\n\n"
            + "Q: How does a telescope work?\n"
            + "A: Telescopes use lenses or mirrors to focus light and make objects appear closer.\n\n"
            + "Q: Where were the 1992 Olympics held?\n"
            + "A: The 1992 Olympics were held in Barcelona, Spain.";

    private static List<Subtask> truthfulqa(Path root, String targetsField) {
        Path file = find(root, "mc_task.json");
        List<Doc> docs = new ArrayList<>();
        for (Records.Rec r : Records.jsonArray(file)) {
            JsonNode targets = r.node(targetsField);
            List<String> choices = new ArrayList<>();
            List<Integer> labels = new ArrayList<>();
            if (targets.has("choices")) { // the Hugging Face export: {choices: [...], labels: [...]}
                choices.addAll(r.texts(targetsField + ".choices"));
                targets.get("labels").forEach(l -> labels.add(l.asInt()));
            } else { // the original mc_task.json: {answer text: 1 or 0, ...} in file order
                for (Iterator<Map.Entry<String, JsonNode>> it = targets.properties().iterator(); it.hasNext();) {
                    Map.Entry<String, JsonNode> e = it.next();
                    choices.add(e.getKey());
                    labels.add(e.getValue().asInt());
                }
            }
            if (choices.isEmpty() || labels.size() != choices.size() || labels.getFirst() != 1) {
                throw new TaskFormatException(r.where() + ": '" + targetsField + "' must list the answers with the"
                        + " first one true (label 1), as TruthfulQA does");
            }
            String context = TRUTHFULQA_PREAMBLE + "\n\nQ: " + r.text("question") + "\nA:";
            docs.add(new Doc(r.where(), List.of(context), choices, 0,
                    labels.stream().mapToInt(Integer::intValue).toArray(), null));
        }
        return List.of(new Subtask(targetsField.startsWith("mc1") ? "truthfulqa_mc1" : "truthfulqa_mc2", docs, List.of(),
                null));
    }

    /** Winogrande, partial scoring: the sentence up to the blank with each option; the rest is the continuation. */
    private static Doc winograndeDoc(Records.Rec r) {
        String sentence = r.text("sentence");
        int blank = sentence.indexOf('_');
        if (blank < 0) {
            throw new TaskFormatException(r.where() + ": field 'sentence' has no blank '_'");
        }
        String answer = r.text("answer").strip();
        if (!answer.equals("1") && !answer.equals("2")) {
            throw new TaskFormatException(r.where() + ": field 'answer' must be \"1\" or \"2\", got '" + answer + "'");
        }
        String prefix = sentence.substring(0, blank);
        List<String> contexts = List.of(prefix + r.text("option1"), prefix + r.text("option2"));
        String rest = sentence.substring(blank + 1).strip();
        return new Doc(r.where(), contexts, List.of(rest), Integer.parseInt(answer) - 1, null, null);
    }

    private static List<Subtask> winogrande(Path root, boolean fewshot) {
        Path dev = find(root, "dev.jsonl", "validation.jsonl");
        List<Doc> docs = Records.jsonLines(dev).stream().map(Tasks::winograndeDoc).toList();
        List<Doc> shots = fewshot ? Records.jsonLines(sibling(dev, "train_xl.jsonl", "train.jsonl")).stream()
                .map(Tasks::winograndeDoc).toList() : List.of();
        return List.of(new Subtask("winogrande", docs, shots, null));
    }

    private static Doc gsm8kDoc(Records.Rec r) {
        return new Doc(r.where(), List.of("Question: " + r.text("question") + "\nAnswer:"), List.of(), -1, null,
                r.text("answer"));
    }

    private static List<Subtask> gsm8k(Path root, boolean fewshot) {
        Path test = find(root, "test.jsonl");
        List<Doc> docs = Records.jsonLines(test).stream().map(Tasks::gsm8kDoc).toList();
        List<Doc> shots = fewshot ? Records.jsonLines(sibling(test, "train.jsonl")).stream().map(Tasks::gsm8kDoc).toList()
                : List.of();
        return List.of(new Subtask("gsm8k", docs, shots, null));
    }

    private static List<Doc> piqaDocs(Path jsonl, Path labelsFile) {
        List<Records.Rec> recs = Records.jsonLines(jsonl);
        List<Integer> labels = Records.labels(labelsFile);
        if (labels.size() != recs.size()) {
            throw new TaskFormatException(labelsFile + ": " + labels.size() + " labels for the " + recs.size()
                    + " examples of " + jsonl.getFileName());
        }
        List<Doc> docs = new ArrayList<>();
        for (int i = 0; i < recs.size(); i++) {
            Records.Rec r = recs.get(i);
            docs.add(Doc.choice(r.where(), "Question: " + r.text("goal") + "\nAnswer:", List.of(r.text("sol1"),
                    r.text("sol2")), labels.get(i)));
        }
        return docs;
    }

    private static List<Subtask> piqa(Path root, boolean fewshot) {
        Path valid = find(root, "valid.jsonl");
        List<Doc> docs = piqaDocs(valid, sibling(valid, "valid-labels.lst"));
        List<Doc> shots = fewshot ? piqaDocs(sibling(valid, "train.jsonl"), sibling(valid, "train-labels.lst")) : List.of();
        return List.of(new Subtask("piqa", docs, shots, null));
    }

    private static Doc sciqDoc(Records.Rec r) {
        String support = r.has("support") ? r.text("support") : "";
        String context = support.stripLeading() + "\nQuestion: " + r.text("question") + "\nAnswer:";
        return Doc.choice(r.where(), context, List.of(r.text("distractor1"), r.text("distractor2"), r.text("distractor3"),
                r.text("correct_answer")), 3);
    }

    private static List<Subtask> sciq(Path root, boolean fewshot) {
        Path test = find(root, "test.json");
        List<Doc> docs = Records.jsonArray(test).stream().map(Tasks::sciqDoc).toList();
        List<Doc> shots = fewshot ? Records.jsonArray(sibling(test, "train.json")).stream().map(Tasks::sciqDoc).toList()
                : List.of();
        return List.of(new Subtask("sciq", docs, shots, null));
    }
}
