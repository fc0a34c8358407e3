package dev.turbosparse.model.tokenizer;

import dev.turbosparse.model.io.InputException;
import dev.turbosparse.model.io.ModelFormatException;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A tokenizer's chat template: the Jinja text of tokenizer_config.json's {@code chat_template}, rendered as Hugging
 * Face's {@code apply_chat_template} renders it (Jinja with {@code trim_blocks} and {@code lstrip_blocks}; the
 * variables {@code messages}, {@code bos_token}, {@code eos_token}, {@code add_generation_prompt}; the function
 * {@code raise_exception}).
 *
 * <p>This is the part of Jinja that chat templates use, interpreted directly: text, {@code {{ }}} output,
 * {@code {# #}} comments and whitespace control ({@code -}, {@code +}); {@code if/elif/else}, {@code for} (with
 * {@code loop.*}, a filter condition and {@code else}), {@code set} (also of a {@code namespace()} attribute);
 * literals, lists and dicts, attribute, subscript and slice access, calls with keyword arguments, the arithmetic,
 * comparison, {@code in}, {@code ~}, {@code and/or/not} and conditional operators, the common filters and tests, and
 * the string and dict methods templates call. Anything else (macros, {@code include}, unknown filters) is refused when
 * the template is read, naming the line, rather than rendered wrongly.
 */
public final class ChatTemplate {

    /** One message of a conversation. */
    public record Message(String role, String content) {}

    private final String origin;
    private final List<Node> body;

    private ChatTemplate(String origin, List<Node> body) {
        this.origin = origin;
        this.body = body;
    }

    /**
     * Reads a template. {@code origin} names it in messages (e.g. the tokenizer_config.json it came from).
     *
     * @throws ModelFormatException if the template is not valid or uses Jinja this interpreter does not know
     */
    public static ChatTemplate parse(String source, String origin) {
        // as Jinja without keep_trailing_newline: the template's one last newline is not part of its text
        source = source.endsWith("\r\n") ? source.substring(0, source.length() - 2)
                : source.endsWith("\n") ? source.substring(0, source.length() - 1) : source;
        List<Token> tokens = new Lexer(source, origin).tokens();
        Parser p = new Parser(tokens, origin, 1 + (int) source.chars().filter(c -> c == '\n').count());
        List<Node> body = p.block(java.util.Set.of());
        if (p.at < tokens.size()) {
            Token t = tokens.get(p.at);
            throw p.error(t, "'" + t.text.trim().split("\\s+")[0] + "' without its opening tag");
        }
        return new ChatTemplate(origin, body);
    }

    /**
     * Renders a conversation.
     *
     * @throws InputException when the template refuses the messages ({@code raise_exception}) or fails on them
     */
    public String render(List<Message> messages, String bosToken, String eosToken, boolean addGenerationPrompt) {
        List<Object> msgs = new ArrayList<>();
        for (Message m : messages) {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", m.role());
            map.put("content", m.content());
            msgs.add(map);
        }
        Scope scope = new Scope(null);
        scope.vars.put("messages", msgs);
        scope.vars.put("bos_token", bosToken == null ? "" : bosToken);
        scope.vars.put("eos_token", eosToken == null ? "" : eosToken);
        scope.vars.put("add_generation_prompt", addGenerationPrompt);
        StringBuilder out = new StringBuilder();
        try {
            for (Node n : body) {
                n.run(scope, out);
            }
        } catch (Raised e) {
            throw new InputException(origin + ": the chat template refuses these messages: " + e.getMessage());
        } catch (RenderError e) {
            throw new InputException(origin + ": the chat template fails on these messages, line " + e.line + ": "
                    + e.getMessage());
        }
        return out.toString();
    }

    // ---- lexing ---------------------------------------------------------------------------------------------------

    private enum Kind { TEXT, OUTPUT, STATEMENT }

    private record Token(Kind kind, String text, int line) {}

    private static final class Lexer {
        private final String s;
        private final String origin;
        private final List<Token> out = new ArrayList<>();

        Lexer(String s, String origin) {
            this.s = s;
            this.origin = origin;
        }

        List<Token> tokens() {
            int i = 0;
            boolean trimNext = false; // the previous tag ended with '-': strip the whitespace that follows it
            boolean dropNewline = false; // trim_blocks: the newline right after a block tag goes
            while (i < s.length()) {
                int open = nextOpen(i);
                String text = s.substring(i, open < 0 ? s.length() : open);
                boolean atLineStart = i == 0; // whether the text starts a line (for lstrip_blocks)
                if (trimNext) {
                    text = text.stripLeading();
                } else if (dropNewline && (text.startsWith("\n") || text.startsWith("\r\n"))) {
                    text = text.substring(text.indexOf('\n') + 1);
                    atLineStart = true;
                }
                if (open < 0) {
                    add(Kind.TEXT, text, line(i));
                    break;
                }
                char type = s.charAt(open + 1);
                boolean block = type == '%' || type == '#';
                int inner = open + 2;
                char modifier = inner < s.length() ? s.charAt(inner) : ' ';
                if (modifier == '-') {
                    text = text.stripTrailing();
                    inner++;
                } else if (modifier == '+') {
                    inner++;
                } else if (block) { // lstrip_blocks: spaces and tabs from the line's start to the tag go
                    int lineStart = text.lastIndexOf('\n') + 1;
                    boolean blank = text.substring(lineStart).chars().allMatch(c -> c == ' ' || c == '\t');
                    if (blank && (lineStart > 0 || atLineStart)) {
                        text = text.substring(0, lineStart);
                    }
                }
                add(Kind.TEXT, text, line(i));
                String close = type == '{' ? "}}" : type == '%' ? "%}" : "#}";
                int end = type == '#' ? s.indexOf(close, inner) : closeOf(inner, close);
                if (end < 0) {
                    throw new ModelFormatException(origin + ": line " + line(open) + ": '" + s.substring(open, open + 2)
                            + "' is never closed");
                }
                boolean trimAfter = end > inner && s.charAt(end - 1) == '-';
                String content = s.substring(inner, trimAfter ? end - 1 : end);
                if (type == '{') {
                    add(Kind.OUTPUT, content, line(open));
                } else if (type == '%') {
                    add(Kind.STATEMENT, content, line(open));
                }
                trimNext = trimAfter;
                dropNewline = block && !trimAfter;
                i = end + 2;
            }
            return out;
        }

        private void add(Kind kind, String text, int line) {
            if (kind != Kind.TEXT || !text.isEmpty()) {
                out.add(new Token(kind, text, line));
            }
        }

        private int nextOpen(int from) {
            for (int i = s.indexOf('{', from); i >= 0 && i + 1 < s.length(); i = s.indexOf('{', i + 1)) {
                char c = s.charAt(i + 1);
                if (c == '{' || c == '%' || c == '#') {
                    return i;
                }
            }
            return -1;
        }

        /** The index of {@code close} after {@code from}, skipping string literals. */
        private int closeOf(int from, String close) {
            char quote = 0;
            for (int i = from; i + 1 < s.length(); i++) {
                char c = s.charAt(i);
                if (quote != 0) {
                    if (c == '\\') {
                        i++;
                    } else if (c == quote) {
                        quote = 0;
                    }
                } else if (c == '\'' || c == '"') {
                    quote = c;
                } else if (s.startsWith(close, i)) {
                    return i;
                }
            }
            return -1;
        }

        private int line(int pos) {
            int n = 1;
            for (int i = 0; i < pos && i < s.length(); i++) {
                if (s.charAt(i) == '\n') {
                    n++;
                }
            }
            return n;
        }
    }

    // ---- the tree -------------------------------------------------------------------------------------------------

    private interface Node {
        void run(Scope scope, StringBuilder out);
    }

    private record TextNode(String text) implements Node {
        public void run(Scope scope, StringBuilder out) {
            out.append(text);
        }
    }

    private record OutputNode(Expr e) implements Node {
        public void run(Scope scope, StringBuilder out) {
            out.append(TemplateValues.str(e.eval(scope)));
        }
    }

    private record IfNode(List<Expr> conditions, List<List<Node>> bodies, List<Node> otherwise) implements Node {
        public void run(Scope scope, StringBuilder out) {
            for (int i = 0; i < conditions.size(); i++) {
                if (TemplateValues.truthy(conditions.get(i).eval(scope))) {
                    runAll(bodies.get(i), scope, out);
                    return;
                }
            }
            runAll(otherwise, scope, out);
        }
    }

    private record ForNode(List<String> targets, Expr iterable, Expr filter, List<Node> body, List<Node> otherwise,
            int line) implements Node {
        public void run(Scope scope, StringBuilder out) {
            List<Object> items = TemplateValues.iterate(iterable.eval(scope), line);
            List<Object> kept = new ArrayList<>();
            for (Object item : items) {
                if (filter == null) {
                    kept.add(item);
                } else {
                    Scope probe = new Scope(scope);
                    bind(probe, item);
                    if (TemplateValues.truthy(filter.eval(probe))) {
                        kept.add(item);
                    }
                }
            }
            if (kept.isEmpty()) {
                runAll(otherwise, scope, out);
                return;
            }
            for (int i = 0; i < kept.size(); i++) {
                Scope inner = new Scope(scope);
                bind(inner, kept.get(i));
                Map<String, Object> loop = new HashMap<>();
                loop.put("index", (long) i + 1);
                loop.put("index0", (long) i);
                loop.put("revindex", (long) (kept.size() - i));
                loop.put("revindex0", (long) (kept.size() - i - 1));
                loop.put("first", i == 0);
                loop.put("last", i == kept.size() - 1);
                loop.put("length", (long) kept.size());
                loop.put("previtem", i > 0 ? kept.get(i - 1) : TemplateValues.UNDEFINED);
                loop.put("nextitem", i + 1 < kept.size() ? kept.get(i + 1) : TemplateValues.UNDEFINED);
                inner.vars.put("loop", loop);
                runAll(body, inner, out);
            }
        }

        private void bind(Scope s, Object item) {
            if (targets.size() == 1) {
                s.vars.put(targets.getFirst(), item);
                return;
            }
            List<Object> parts = TemplateValues.iterate(item, line);
            if (parts.size() != targets.size()) {
                throw new RenderError(line, "cannot unpack " + parts.size() + " values into " + targets.size() + " names");
            }
            for (int k = 0; k < parts.size(); k++) {
                s.vars.put(targets.get(k), parts.get(k));
            }
        }
    }

    /** {@code set name = e}, or {@code set ns.attr = e} for a namespace. */
    private record SetNode(String name, String attribute, Expr e, int line) implements Node {
        public void run(Scope scope, StringBuilder out) {
            Object v = e.eval(scope);
            if (attribute == null) {
                scope.vars.put(name, v);
                return;
            }
            if (!(scope.get(name) instanceof Namespace ns)) {
                throw new RenderError(line, "'" + name + "' is not a namespace(), so '" + name + "." + attribute
                        + "' cannot be set");
            }
            ns.put(attribute, v);
        }
    }

    private static void runAll(List<Node> nodes, Scope scope, StringBuilder out) {
        for (Node n : nodes) {
            n.run(scope, out);
        }
    }

    private static final class Scope {
        final Scope parent;
        final Map<String, Object> vars = new HashMap<>();

        Scope(Scope parent) {
            this.parent = parent;
        }

        Object get(String name) {
            for (Scope s = this; s != null; s = s.parent) {
                if (s.vars.containsKey(name)) {
                    return s.vars.get(name);
                }
            }
            return TemplateValues.UNDEFINED;
        }
    }

    /** A {@code namespace()}: the one object a template may change across loop iterations. */
    static final class Namespace extends LinkedHashMap<String, Object> {}

    /** {@code raise_exception(message)}, called by the template. */
    static final class Raised extends RuntimeException {
        Raised(String message) {
            super(message, null, false, false);
        }
    }

    static final class RenderError extends RuntimeException {
        final int line;

        RenderError(int line, String message) {
            super(message, null, false, false);
            this.line = line;
        }
    }

    // ---- parsing --------------------------------------------------------------------------------------------------

    private static final class Parser {
        final List<Token> tokens;
        final String origin;
        final int lastLine;
        int at;

        Parser(List<Token> tokens, String origin, int lastLine) {
            this.tokens = tokens;
            this.origin = origin;
            this.lastLine = lastLine;
        }

        ModelFormatException error(Token t, String message) {
            return new ModelFormatException(origin + ": line " + t.line + ": " + message);
        }

        /** Nodes up to a statement whose first word is in {@code ends} (not consumed), or the end. */
        List<Node> block(java.util.Set<String> ends) {
            List<Node> nodes = new ArrayList<>();
            while (at < tokens.size()) {
                Token t = tokens.get(at);
                switch (t.kind) {
                    case TEXT -> {
                        nodes.add(new TextNode(t.text));
                        at++;
                    }
                    case OUTPUT -> {
                        nodes.add(new OutputNode(new ExprParser(t, this).whole()));
                        at++;
                    }
                    case STATEMENT -> {
                        String word = firstWord(t.text);
                        if (ends.contains(word)) {
                            return nodes;
                        }
                        at++;
                        nodes.add(statement(t, word));
                    }
                }
            }
            if (!ends.isEmpty()) {
                Token last = new Token(Kind.TEXT, "", lastLine);
                throw error(last, "the template ends before {% " + String.join(" / ", new java.util.TreeSet<>(ends)) + " %}");
            }
            return nodes;
        }

        static String firstWord(String statement) {
            String s = statement.strip();
            int i = 0;
            while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_')) {
                i++;
            }
            return s.substring(0, i);
        }

        Node statement(Token t, String word) {
            String rest = t.text.strip().substring(word.length());
            switch (word) {
                case "if" -> {
                    List<Expr> conds = new ArrayList<>();
                    List<List<Node>> bodies = new ArrayList<>();
                    conds.add(new ExprParser(new Token(t.kind, rest, t.line), this).whole());
                    List<Node> otherwise = List.of();
                    while (true) {
                        bodies.add(block(java.util.Set.of("elif", "else", "endif")));
                        Token end = tokens.get(at++);
                        String w = firstWord(end.text);
                        if (w.equals("elif")) {
                            conds.add(new ExprParser(new Token(end.kind, end.text.strip().substring(4), end.line), this).whole());
                        } else if (w.equals("else")) {
                            otherwise = block(java.util.Set.of("endif"));
                            at++;
                            break;
                        } else {
                            break;
                        }
                    }
                    return new IfNode(conds, bodies, otherwise);
                }
                case "for" -> {
                    ExprParser p = new ExprParser(new Token(t.kind, rest, t.line), this);
                    List<String> targets = new ArrayList<>();
                    targets.add(p.name());
                    while (p.accept(",")) {
                        targets.add(p.name());
                    }
                    p.expectWord("in");
                    Expr iterable = p.orExpr(); // not a conditional: "if" here filters the loop
                    Expr filter = null;
                    if (p.acceptWord("if")) {
                        filter = p.orExpr();
                    }
                    p.end();
                    List<Node> body = block(java.util.Set.of("else", "endfor"));
                    List<Node> otherwise = List.of();
                    if (firstWord(tokens.get(at++).text).equals("else")) {
                        otherwise = block(java.util.Set.of("endfor"));
                        at++;
                    }
                    return new ForNode(targets, iterable, filter, body, otherwise, t.line);
                }
                case "set" -> {
                    ExprParser p = new ExprParser(new Token(t.kind, rest, t.line), this);
                    String name = p.name();
                    String attribute = p.accept(".") ? p.name() : null;
                    if (!p.accept("=")) {
                        throw error(t, "block {% set %} (without '=') is not supported");
                    }
                    Expr e = p.expression();
                    p.end();
                    return new SetNode(name, attribute, e, t.line);
                }
                case "endif", "endfor", "elif", "else" -> throw error(t, "'" + word + "' without its opening tag");
                default -> throw error(t, word.isEmpty() ? "an empty {% %} tag" : "{% " + word
                        + " %} is not supported in chat templates here (supported: if, for, set)");
            }
        }
    }

    // ---- expressions ----------------------------------------------------------------------------------------------

    @FunctionalInterface
    private interface Expr {
        Object eval(Scope s);
    }

    private static final java.util.Set<String> FILTERS = java.util.Set.of("trim", "length", "count", "upper", "lower",
            "capitalize", "title", "first", "last", "join", "default", "d", "string", "int", "float", "tojson", "list",
            "reverse", "replace", "items", "safe", "abs", "selectattr", "rejectattr", "select", "reject", "map");
    private static final java.util.Set<String> TESTS = TemplateValues.TESTS;

    private static final class ExprParser {
        private final String s;
        private final Token where;
        private final Parser parser;
        private int i;

        ExprParser(Token t, Parser parser) {
            this.s = t.text;
            this.where = t;
            this.parser = parser;
        }

        ModelFormatException error(String message) {
            return parser.error(where, message + " in '" + s.strip() + "'");
        }

        Expr whole() {
            Expr e = expression();
            end();
            return e;
        }

        void end() {
            skip();
            if (i < s.length()) {
                throw error("unexpected '" + s.substring(i).strip() + "'");
            }
        }

        private void skip() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        boolean accept(String symbol) {
            skip();
            if (s.startsWith(symbol, i)) {
                // "=" must not take the first half of "=="; "." not the start of a number
                if (symbol.equals("=") && s.startsWith("==", i) || symbol.equals("*") && s.startsWith("**", i)
                        || symbol.equals("/") && s.startsWith("//", i) || symbol.equals("<") && s.startsWith("<=", i)
                        || symbol.equals(">") && s.startsWith(">=", i)) {
                    return false;
                }
                i += symbol.length();
                return true;
            }
            return false;
        }

        boolean acceptWord(String word) {
            skip();
            if (s.startsWith(word, i) && (i + word.length() == s.length() || !isNameChar(s.charAt(i + word.length())))) {
                i += word.length();
                return true;
            }
            return false;
        }

        void expectWord(String word) {
            if (!acceptWord(word)) {
                throw error("'" + word + "' expected");
            }
        }

        void expect(String symbol) {
            if (!accept(symbol)) {
                throw error("'" + symbol + "' expected");
            }
        }

        private static boolean isNameChar(char c) {
            return Character.isLetterOrDigit(c) || c == '_';
        }

        String name() {
            skip();
            int start = i;
            if (i < s.length() && (Character.isLetter(s.charAt(i)) || s.charAt(i) == '_')) {
                while (i < s.length() && isNameChar(s.charAt(i))) {
                    i++;
                }
                return s.substring(start, i);
            }
            throw error("a name expected");
        }

        Expr expression() {
            Expr value = orExpr();
            int save = i;
            if (acceptWord("if")) {
                Expr cond = orExpr();
                Expr otherwise = acceptWord("else") ? expression() : sc -> TemplateValues.UNDEFINED;
                return sc -> TemplateValues.truthy(cond.eval(sc)) ? value.eval(sc) : otherwise.eval(sc);
            }
            i = save;
            return value;
        }

        Expr orExpr() {
            Expr left = andExpr();
            while (acceptWord("or")) {
                Expr l = left;
                Expr r = andExpr();
                left = sc -> {
                    Object a = l.eval(sc);
                    return TemplateValues.truthy(a) ? a : r.eval(sc);
                };
            }
            return left;
        }

        Expr andExpr() {
            Expr left = notExpr();
            while (acceptWord("and")) {
                Expr l = left;
                Expr r = notExpr();
                left = sc -> {
                    Object a = l.eval(sc);
                    return TemplateValues.truthy(a) ? r.eval(sc) : a;
                };
            }
            return left;
        }

        Expr notExpr() {
            if (acceptWord("not")) {
                Expr e = notExpr();
                return sc -> !TemplateValues.truthy(e.eval(sc));
            }
            return compare();
        }

        Expr compare() {
            Expr left = math1();
            while (true) {
                String op;
                if (accept("==")) {
                    op = "==";
                } else if (accept("!=")) {
                    op = "!=";
                } else if (accept("<=")) {
                    op = "<=";
                } else if (accept(">=")) {
                    op = ">=";
                } else if (accept("<")) {
                    op = "<";
                } else if (accept(">")) {
                    op = ">";
                } else if (acceptWord("in")) {
                    op = "in";
                } else {
                    int save = i;
                    if (acceptWord("not") && acceptWord("in")) {
                        op = "not in";
                    } else {
                        i = save;
                        return left;
                    }
                }
                Expr l = left;
                Expr r = math1();
                String o = op;
                int line = where.line;
                left = sc -> TemplateValues.compare(o, l.eval(sc), r.eval(sc), line);
            }
        }

        Expr math1() {
            Expr left = concat();
            while (true) {
                String op = accept("+") ? "+" : accept("-") ? "-" : null;
                if (op == null) {
                    return left;
                }
                Expr l = left;
                Expr r = concat();
                int line = where.line;
                left = sc -> TemplateValues.arithmetic(op, l.eval(sc), r.eval(sc), line);
            }
        }

        Expr concat() {
            Expr left = math2();
            while (accept("~")) {
                Expr l = left;
                Expr r = math2();
                left = sc -> TemplateValues.str(l.eval(sc)) + TemplateValues.str(r.eval(sc));
            }
            return left;
        }

        Expr math2() {
            Expr left = unary();
            while (true) {
                String op = accept("//") ? "//" : accept("*") ? "*" : accept("/") ? "/" : accept("%") ? "%" : null;
                if (op == null) {
                    return left;
                }
                Expr l = left;
                Expr r = unary();
                int line = where.line;
                left = sc -> TemplateValues.arithmetic(op, l.eval(sc), r.eval(sc), line);
            }
        }

        Expr unary() {
            if (accept("-")) {
                Expr e = unary();
                int line = where.line;
                return sc -> TemplateValues.arithmetic("-", 0L, e.eval(sc), line);
            }
            if (accept("+")) {
                return unary();
            }
            return filtered(postfix(primary()));
        }

        Expr primary() {
            skip();
            if (i >= s.length()) {
                throw error("an expression expected");
            }
            char c = s.charAt(i);
            if (c == '\'' || c == '"') {
                String lit = string(c);
                return sc -> lit;
            }
            if (Character.isDigit(c)) {
                int start = i;
                while (i < s.length() && (Character.isDigit(s.charAt(i)) || s.charAt(i) == '_')) {
                    i++;
                }
                if (i + 1 < s.length() && s.charAt(i) == '.' && Character.isDigit(s.charAt(i + 1))) {
                    i++;
                    while (i < s.length() && Character.isDigit(s.charAt(i))) {
                        i++;
                    }
                    double d = Double.parseDouble(s.substring(start, i).replace("_", ""));
                    return sc -> d;
                }
                long v = Long.parseLong(s.substring(start, i).replace("_", ""));
                return sc -> v;
            }
            if (accept("(")) {
                Expr e = expression();
                expect(")");
                return e;
            }
            if (accept("[")) {
                List<Expr> items = new ArrayList<>();
                if (!accept("]")) {
                    do {
                        items.add(expression());
                    } while (accept(","));
                    expect("]");
                }
                return sc -> {
                    List<Object> l = new ArrayList<>();
                    for (Expr e : items) {
                        l.add(e.eval(sc));
                    }
                    return l;
                };
            }
            if (accept("{")) {
                List<Expr[]> pairs = new ArrayList<>();
                if (!accept("}")) {
                    do {
                        Expr k = expression();
                        expect(":");
                        pairs.add(new Expr[] {k, expression()});
                    } while (accept(","));
                    expect("}");
                }
                return sc -> {
                    Map<String, Object> m = new LinkedHashMap<>();
                    for (Expr[] p : pairs) {
                        m.put(TemplateValues.str(p[0].eval(sc)), p[1].eval(sc));
                    }
                    return m;
                };
            }
            String name = name();
            switch (name) {
                case "true", "True" -> {
                    return sc -> Boolean.TRUE;
                }
                case "false", "False" -> {
                    return sc -> Boolean.FALSE;
                }
                case "none", "None" -> {
                    return sc -> null;
                }
                default -> {
                    Object f = TemplateValues.function(name);
                    return sc -> {
                        Object v = sc.get(name);
                        return v == TemplateValues.UNDEFINED && f != null ? f : v;
                    };
                }
            }
        }

        private String string(char quote) {
            StringBuilder b = new StringBuilder();
            i++;
            while (i < s.length() && s.charAt(i) != quote) {
                char c = s.charAt(i++);
                if (c == '\\' && i < s.length()) {
                    char e = s.charAt(i++);
                    switch (e) {
                        case 'n' -> b.append('\n');
                        case 't' -> b.append('\t');
                        case 'r' -> b.append('\r');
                        case '\\', '\'', '"' -> b.append(e);
                        default -> b.append('\\').append(e);
                    }
                } else {
                    b.append(c);
                }
            }
            if (i >= s.length()) {
                throw error("a string is never closed");
            }
            i++;
            return b.toString();
        }

        /** Attribute, subscript, slice and call suffixes. */
        Expr postfix(Expr e) {
            while (true) {
                int line = where.line;
                if (accept(".")) {
                    String attr = name();
                    if (peek("(")) {
                        accept("(");
                        Args args = args();
                        Expr target = e;
                        e = sc -> TemplateValues.method(target.eval(sc), attr, args.eval(sc), line);
                    } else {
                        Expr target = e;
                        e = sc -> TemplateValues.attribute(target.eval(sc), attr, line);
                    }
                } else if (accept("[")) {
                    Expr target = e;
                    Expr[] parts = new Expr[3];
                    boolean slice = false;
                    if (!peek(":")) {
                        parts[0] = expression();
                    }
                    if (accept(":")) {
                        slice = true;
                        if (!peek(":") && !peek("]")) {
                            parts[1] = expression();
                        }
                        if (accept(":") && !peek("]")) {
                            parts[2] = expression();
                        }
                    }
                    expect("]");
                    if (slice) {
                        e = sc -> TemplateValues.slice(target.eval(sc), parts[0] == null ? null : parts[0].eval(sc),
                                parts[1] == null ? null : parts[1].eval(sc), parts[2] == null ? null : parts[2].eval(sc), line);
                    } else {
                        Expr key = parts[0];
                        e = sc -> TemplateValues.item(target.eval(sc), key.eval(sc), line);
                    }
                } else if (peek("(")) {
                    accept("(");
                    Args args = args();
                    Expr target = e;
                    e = sc -> TemplateValues.call(target.eval(sc), args.eval(sc), line);
                } else {
                    return e;
                }
            }
        }

        private boolean peek(String symbol) {
            skip();
            return s.startsWith(symbol, i);
        }

        /** Call arguments after '(' up to and with ')'. */
        Args args() {
            List<Expr> positional = new ArrayList<>();
            Map<String, Expr> named = new LinkedHashMap<>();
            if (!accept(")")) {
                do {
                    int save = i;
                    skip();
                    if (i < s.length() && (Character.isLetter(s.charAt(i)) || s.charAt(i) == '_')) {
                        String n = name();
                        if (accept("=")) {
                            named.put(n, expression());
                            continue;
                        }
                    }
                    i = save;
                    positional.add(expression());
                } while (accept(","));
                expect(")");
            }
            return new Args(positional, named);
        }

        /** Filters ({@code | name(args)}) and tests ({@code is [not] name(args)}) after a primary. */
        Expr filtered(Expr e) {
            while (true) {
                int line = where.line;
                if (accept("|")) {
                    String f = name();
                    if (!FILTERS.contains(f)) {
                        throw error("the filter '" + f + "' is not supported");
                    }
                    Args args = peek("(") && accept("(") ? args() : new Args(List.of(), Map.of());
                    Expr target = e;
                    e = sc -> TemplateValues.filter(f, target.eval(sc), args.eval(sc), line);
                } else if (acceptWord("is")) {
                    boolean negated = acceptWord("not");
                    String t = name();
                    if (!TESTS.contains(t)) {
                        throw error("the test '" + t + "' is not supported");
                    }
                    Expr arg = null;
                    if (peek("(")) {
                        accept("(");
                        arg = expression();
                        expect(")");
                    } else if (t.equals("eq") || t.equals("equalto") || t.equals("ne")) {
                        arg = math1();
                    }
                    Expr target = e;
                    Expr a = arg;
                    e = sc -> negated != TemplateValues.test(t, target.eval(sc), a == null ? null : a.eval(sc));
                } else {
                    return e;
                }
            }
        }
    }

    private record Args(List<Expr> positional, Map<String, Expr> named) {
        TemplateValues.Call eval(Scope sc) {
            List<Object> p = new ArrayList<>();
            for (Expr e : positional) {
                p.add(e.eval(sc));
            }
            Map<String, Object> n = new LinkedHashMap<>();
            for (Map.Entry<String, Expr> e : named.entrySet()) {
                n.put(e.getKey(), e.getValue().eval(sc));
            }
            return new TemplateValues.Call(p, n);
        }
    }
}
